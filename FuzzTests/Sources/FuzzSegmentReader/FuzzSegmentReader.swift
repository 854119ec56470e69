import SMXTestSupport

/// libFuzzer entry point (libFuzzer supplies `main`): see `FuzzHarness.segmentReader`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzHarness.segmentReader(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
