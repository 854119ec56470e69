import SMXTestSupport

/// libFuzzer entry point (libFuzzer supplies `main`): see `FuzzHarness.btreeFile`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzHarness.btreeFile(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
