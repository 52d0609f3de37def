// `X-Chekt-Signature` on the platform's command-carrying answers. The input is
// `<8 bytes: platform now, seconds, little-endian> <header> NUL <body>`.
// Two checks per input: the header as given (it almost never matches, which exercises the parsing), and a header
// the harness signs itself for a `t` taken from the input, which reaches the window check and must come out
// `.valid` or `.outsideWindow` exactly as the difference says.
import BridgeUplink
import FuzzSupport

let secret = Array("fuzz-signing-secret-0123456789".utf8)
let otherSecret = Array("rotated-secret".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    let now = Fuzz.int64(bytes, at: 0)
    let rest = bytes.count > 8 ? Array(bytes[8...]) : []
    let (headerBytes, bodyBytes) = Fuzz.split(rest, at: 0)
    let header = Fuzz.text(headerBytes)
    let body = bodyBytes ?? []

    let asGiven = Signature.verify(header: header, body: body, secrets: [otherSecret, secret], platformNowSeconds: now)
    _ = asGiven.description

    // A signature the harness makes: t is 0...999_999_999_999 (what the header format allows: 1-12 digits).
    let t = Int64(UInt64(bitPattern: Fuzz.int64(headerBytes, at: 0)) % 1_000_000_000_000)
    let signed = Signature.header(secret: secret, body: body, unixSeconds: t)
    let check = Signature.verify(header: signed, body: body, secrets: [otherSecret, secret], platformNowSeconds: now)
    let (skew, overflow) = t.subtractingReportingOverflow(now)
    let expected: SignatureCheck = overflow ? .outsideWindow(skewS: .max)
        : skew.magnitude <= 300 ? .valid : .outsideWindow(skewS: skew)
    Fuzz.require(check == expected, "verify(\(signed), now: \(now)) = \(check), expected \(expected)")

    // The same signature with the input's header entries around it: unknown keys are ignored, a second t is malformed.
    let combined = signed + "," + header
    _ = Signature.verify(header: combined, body: body, secrets: [secret], platformNowSeconds: now)
    return 0
}
