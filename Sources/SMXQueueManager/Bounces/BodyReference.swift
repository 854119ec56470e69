import Logging
import SMXStore

/// Dropping a body's reference when an envelope leaves the deferred queue, under rule 2:
/// the body goes only when no envelope record refers to it, and an envelope whose
/// recipients are spread over both queues is still open in the incoming log then.
enum BodyReference {
    /// Releases `content` after the deferred-queue commit that removed `envelopeID`
    /// returned, unless the incoming log still holds the envelope open. Returns whether the
    /// body was released. A failed release is logged and left to startup's recount (a
    /// count too high is allowed, never too low).
    static func releaseIfUnreferenced(
        _ content: ContentReference, of envelopeID: EnvelopeID, log: IncomingLog, contentStore: ContentStore, logger: Logger
    ) -> Bool {
        guard log.transaction(envelopeID) == nil else { return false }
        do {
            return try contentStore.release(content.id)
        } catch {
            logger.info("body \(content.id) of envelope \(envelopeID) not released (startup's recount will): \(error)")
            return false
        }
    }
}
