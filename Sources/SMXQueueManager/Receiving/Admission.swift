/// What an ``AdmissionPolicy`` says about taking more mail now. The seed's queue manager
/// tells the SMTP servers to slow down, then to stop, when the incoming or active queue
/// passes its thresholds; a server never waits for room without bound.
public enum Admission: Equatable, Sendable {
    /// Take mail.
    case accept
    /// First stage: no new transactions (``Receiver/begin(sender:parameters:)`` fails with
    /// ``ReceiveError/slowDown(_:)``); transactions already under way still commit, so the
    /// sessions in flight drain.
    case slowDown(String)
    /// Second stage: every new transaction and every commit fails with
    /// ``ReceiveError/refused(_:)``; an unfinished body is released.
    case refuse(String)
}
