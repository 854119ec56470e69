import SMXTestSupport

/// libFuzzer entry point (libFuzzer supplies `main`): see `FuzzHarness.btreePage`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzHarness.btreePage(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
