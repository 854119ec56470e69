import SMXQueueManager

/// ADAPTER (switch on after the DSN wiring lands): whether the queue manager sends failure
/// DSNs itself (`QueueManagerConfiguration.notifications`, being added on main).
///
/// - Off (today): a failed recipient stays in the deferred queue as `failed` (its report
///   owed); the checker counts that as its one bounce, and the drained queue may hold
///   exactly those.
/// - On: the manager enqueues a failure DSN (null sender, to the original sender, with
///   `Original-Envelope-Id:` and one `Final-Recipient:` per reported recipient) and removes
///   the recipient as bounced; ``SimulationAgent`` parses each DSN it is handed and the
///   checker wants every failed recipient reported (Action: failed; delay DSNs do not
///   count) and the drained queue empty.
///
/// To switch on: set ``enabled`` to true and uncomment the line in ``configure(_:)``.
enum SimulationNotifications {
    static let enabled = true

    static func configure(_ configuration: inout QueueManagerConfiguration) {
        guard enabled else { return }
        configuration.notifications = NotificationConfiguration(reportingMTA: "mx.sim.example")
    }
}
