#if canImport(Glibc)
import Glibc
#endif

/// A JSON value whose objects keep their keys in insertion order, so reports read the same
/// from run to run. Enough JSON for benchmark reports; not a general encoder.
indirect enum JSON: Sendable {
    case int(Int)
    /// A number rounded to `decimals` places when rendered.
    case number(Double, decimals: Int)
    case bool(Bool)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    static func number(_ value: Double) -> JSON { .number(value, decimals: 2) }
    static func micros(_ value: Double) -> JSON { .number(value, decimals: 1) }

    /// One line, no spaces.
    var rendered: String {
        var out = ""
        render(into: &out)
        return out
    }

    private func render(into out: inout String) {
        switch self {
        case .int(let v):
            out += String(v)
        case .number(let v, let decimals):
            guard v.isFinite else { out += "null"; return }
            var scale = 1.0
            for _ in 0..<decimals { scale *= 10 }
            let rounded = (v * scale).rounded() / scale
            if rounded == rounded.rounded(), abs(rounded) < 1e15 {
                out += String(Int64(rounded))
            } else {
                out += "\(rounded)"
            }
        case .bool(let v):
            out += v ? "true" : "false"
        case .string(let s):
            JSON.escape(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.render(into: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out += "," }
                JSON.escape(key, into: &out)
                out += ":"
                value.render(into: &out)
            }
            out += "}"
        }
    }

    private static func escape(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// Human-readable progress goes to stderr so that stdout carries only the report.
func progress(_ message: String) {
    let line = message + "\n"
    var utf8 = Array(line.utf8)
    utf8.withUnsafeMutableBytes { buffer in
        var done = 0
        while done < buffer.count {
            let n = Glibc.write(2, buffer.baseAddress! + done, buffer.count - done)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            done += n
        }
    }
}

/// Right-aligns or left-aligns cells into a plain-text table.
func renderTable(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { column, cell in
            let pad = String(repeating: " ", count: widths[column] - cell.count)
            return column == 0 ? cell + pad : pad + cell
        }.joined(separator: "  ")
    }
    let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
    return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
}

/// Formats a number with a fixed count of decimals, for tables.
func fixed(_ value: Double, _ decimals: Int = 1) -> String {
    JSON.number(value, decimals: decimals).rendered
}
