import SMXQueueManager
import SMXStore
import SMXTestSupport
import Testing

@Suite struct JobBuilderTests {
    static let envelope = DeliveryEnvelope(
        envelopeID: EnvelopeID(7), sender: "alice@example.net", content: ContentReference(id: ContentID(9), size: 1_024, checksum: 42)
    )

    static func recipient(_ index: UInt32, _ hop: String, _ deliveryClass: DeliveryClass = .smtp) -> ResolvedRecipient {
        ResolvedRecipient(
            JobRecipient(id: RecipientID(EnvelopeID(7), index), address: "r\(index)@\(hop)"), deliveryClass: deliveryClass, nextHop: NextHop(hop)!
        )
    }

    /// Each job as (id, class, next hop, recipient indexes).
    static func summary(_ jobs: [DeliveryJob]) -> [String] {
        jobs.map { "\($0.id.rawValue) \($0.deliveryClass) \($0.nextHop) \($0.recipients.map { String($0.id.index) }.joined(separator: ","))" }
    }

    @Test func groupsByDestinationAndSplitsAtTheLimit() throws {
        var builder = try JobBuilder(recipientsPerJob: 2)
        let jobs = builder.jobs(for: Self.envelope, recipients: [
            Self.recipient(0, "b.example"), Self.recipient(1, "a.example"), Self.recipient(2, "b.example"),
            Self.recipient(3, "b.example"), Self.recipient(4, "a.example", .local), Self.recipient(5, "b.example"),
            Self.recipient(6, "b.example"),
        ])
        #expect(Self.summary(jobs) == [
            "1 smtp b.example 0,2", "2 smtp b.example 3,5", "3 smtp b.example 6",
            "4 smtp a.example 1", "5 local a.example 4",
        ])
        #expect(jobs.allSatisfy { $0.envelope == Self.envelope })
        #expect(builder.nextID == DeliveryJob.ID(6))
        // Numbering continues with the next envelope; no recipients, no jobs.
        #expect(builder.jobs(for: Self.envelope, recipients: []).isEmpty)
        #expect(Self.summary(builder.jobs(for: Self.envelope, recipients: [Self.recipient(0, "c.example")])) == ["6 smtp c.example 0"])
    }

    @Test func sameJobsWhateverTheInputOrder() throws {
        var random = SplitMix64(seed: 5)
        let hops = ["a.example", "b.example", "c.example:2525", "d.example"]
        let recipients = (0..<250).map { Self.recipient(UInt32($0), hops[random.below(hops.count)]) }
        var reference = try JobBuilder()
        let expected = Self.summary(reference.jobs(for: Self.envelope, recipients: recipients))
        for _ in 0..<20 {
            var shuffled = recipients
            shuffled.shuffle(using: &random)
            var builder = try JobBuilder()
            let jobs = builder.jobs(for: Self.envelope, recipients: shuffled)
            #expect(Self.summary(jobs) == expected)
            // Every recipient in exactly one job, at most 100 per job, one destination per job.
            #expect(jobs.flatMap(\.recipients).map(\.id).sorted() == recipients.map(\.recipient.id))
            #expect(jobs.allSatisfy { (1...JobBuilder.defaultRecipientsPerJob).contains($0.recipients.count) })
        }
    }

    @Test func recipientsPerJobMustBePositive() {
        #expect(throws: DeliveryConfigurationError.self) { try JobBuilder(recipientsPerJob: 0) }
    }

    @Test func resultsCoverTheirJob() throws {
        var builder = try JobBuilder()
        let job = try #require(builder.jobs(for: Self.envelope, recipients: [Self.recipient(0, "a.example"), Self.recipient(1, "a.example")]).first)
        let timeout = StatusReply(code: 0, status: EnhancedStatusCode(4, 4, 1)!, text: "connect to a.example: timed out")
        let failed = DeliveryResult.connectionFailed(job, reply: timeout)
        #expect(failed.covers(job) && failed.connection == .failed)
        #expect(failed.recipients.map(\.outcome) == [.temporaryFailure(timeout), .temporaryFailure(timeout)])
        let ok = StatusReply(DeliveryReply(code: 250, text: "2.0.0 queued as 4F2A"), status: EnhancedStatusCode(2, 0, 0)!, remoteMTA: "mx.a.example")
        var result = DeliveryResult(jobID: job.id, connection: .connected, recipients: [
            RecipientResult(job.recipients[1].id, .delivered(ok)), RecipientResult(job.recipients[0].id, .permanentFailure(ok)),
        ])
        #expect(result.covers(job))
        #expect(result.recipients[0].outcome.reply.remoteMTA == "mx.a.example")
        result.recipients.removeLast()
        #expect(!result.covers(job))
        result.recipients.append(RecipientResult(job.recipients[1].id, .delivered(ok)))
        #expect(!result.covers(job))
        result.recipients[1] = RecipientResult(job.recipients[0].id, .delivered(ok))
        result.jobID = DeliveryJob.ID(99)
        #expect(!result.covers(job))
    }
}
