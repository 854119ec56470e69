#if canImport(Glibc)
import Glibc
#endif

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC): what every latency and window uses.
@inline(__always)
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CPU time of the calling thread in nanoseconds (CLOCK_THREAD_CPUTIME_ID): for
/// CPU-bound phases, so that time the machine gives to other work does not count.
func threadCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CPU time of the whole process (every thread, user and system) in nanoseconds
/// (CLOCK_PROCESS_CPUTIME_ID).
func processCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Wall-clock time in microseconds since the Unix epoch.
func wallClockMicros() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec) / 1000
}

extension Double {
    /// Seconds as nanoseconds.
    var nanoseconds: UInt64 { UInt64((self * 1e9).rounded()) }
}

/// A measured phase: `warmUp` seconds whose results are thrown away, then `duration`
/// seconds that count. Deadlines are absolute monotonic times, so no phase sleeps.
struct Window: Sendable {
    let measureStart: UInt64
    let end: UInt64

    init(warmUp: Double, duration: Double, from start: UInt64 = monotonicNanos()) {
        measureStart = start + warmUp.nanoseconds
        end = measureStart + duration.nanoseconds
    }

    var seconds: Double { Double(end - measureStart) / 1e9 }

    /// Whether an operation that completed at `t` counts towards throughput.
    @inline(__always)
    func counts(completedAt t: UInt64) -> Bool { t >= measureStart && t < end }
}

/// Bytes this process has caused to be written to storage so far (`write_bytes` in
/// `/proc/self/io`), or 0 where the kernel does not account it.
func processWriteBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("write_bytes:") {
        return Int(line.dropFirst("write_bytes:".count).filter { $0 != " " }) ?? 0
    }
    return 0
}
