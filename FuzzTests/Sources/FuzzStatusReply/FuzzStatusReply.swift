import SMXTestSupport

/// libFuzzer entry point (libFuzzer supplies `main`): see `FuzzHarness.statusReply`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzHarness.statusReply(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
