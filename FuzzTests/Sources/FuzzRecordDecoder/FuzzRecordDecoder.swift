import SMXTestSupport

/// libFuzzer entry point (libFuzzer supplies `main`): see `FuzzHarness.recordDecoder`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzHarness.recordDecoder(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
