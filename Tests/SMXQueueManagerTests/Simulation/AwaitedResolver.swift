import SMXQueueManager

/// The static resolver behind the asynchronous door only: it never answers at once, so the
/// queue manager awaits each answer on a task of its own and applies it from its inbox in a
/// later pass, as it does for a resolver that looks up DNS. The simulation runs odd seeds
/// with it, so both ways a resolution comes back are checked.
struct AwaitedResolver: AddressResolver {
    let base: StaticRouteResolver

    func resolve(recipient: String, sender: String) async -> Resolution {
        base.resolve(recipient: recipient, sender: sender)
    }
}
