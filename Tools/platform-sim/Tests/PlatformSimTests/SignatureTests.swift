import Testing

@testable import PlatformSim

@Suite("Signatures")
struct SignatureTests {
    // Vectors computed independently with:
    //   printf '%s' '1700000000.{"events":[]}' | openssl dgst -sha256 -hmac 'whsec_test_secret'
    //   printf '%s' '1700000000.' | openssl dgst -sha256 -hmac 'whsec_test_secret'
    let secret = "whsec_test_secret"
    let body = Array(#"{"events":[]}"#.utf8)
    let bodyMAC = "decf25707539432b05c1ca945d0a9c637485e759de0ecbdbc708e5b504771f16"
    let emptyMAC = "316b9ab98c15bfa039d243f3196acee619cf29749a91a634e6a8154e2f7b6727"

    @Test func signsLikeOpenSSL() {
        #expect(Signature.hex(secret: secret, body: body, unixSeconds: 1_700_000_000) == bodyMAC)
        #expect(Signature.hex(secret: secret, body: [UInt8](), unixSeconds: 1_700_000_000) == emptyMAC)
        #expect(
            Signature.header(secret: secret, body: body, unixSeconds: 1_700_000_000) == "t=1700000000,v1=\(bodyMAC)")
    }

    @Test func acceptsAValidSignature() {
        let check = Signature.verify(
            header: "t=1700000000,v1=\(bodyMAC)", body: body, secret: secret, platformNowSeconds: 1_700_000_000)
        #expect(check == .valid)
        #expect(
            Signature.verify(
                header: "t=1700000000,v1=\(emptyMAC)", body: [UInt8](), secret: secret,
                platformNowSeconds: 1_700_000_000) == .valid)
    }

    @Test func oneMatchingV1AmongSeveralIsEnough() {
        let other = String(repeating: "0", count: 64)
        let check = Signature.verify(
            header: "t=1700000000, v1=\(other) ,v1=\(bodyMAC),v0=legacy", body: body, secret: secret,
            platformNowSeconds: 1_700_000_000)
        #expect(check == .valid)
    }

    @Test func refusesATamperedBodyOrAnotherSecret() {
        let tampered = Array(#"{"events":[1]}"#.utf8)
        #expect(
            Signature.verify(
                header: "t=1700000000,v1=\(bodyMAC)", body: tampered, secret: secret, platformNowSeconds: 1_700_000_000)
                == .mismatch)
        #expect(
            Signature.verify(
                header: "t=1700000000,v1=\(bodyMAC)", body: body, secret: "other", platformNowSeconds: 1_700_000_000)
                == .mismatch)
        // The timestamp is signed too: moving t breaks the signature.
        #expect(
            Signature.verify(
                header: "t=1700000001,v1=\(bodyMAC)", body: body, secret: secret, platformNowSeconds: 1_700_000_000)
                == .mismatch)
    }

    @Test(arguments: [(300, true), (-300, true), (301, false), (-301, false), (0, true)])
    func windowIsThreeHundredSecondsEachWay(offset: Int64, valid: Bool) {
        let t: Int64 = 1_700_000_000
        let header = Signature.header(secret: secret, body: body, unixSeconds: t)
        let check = Signature.verify(header: header, body: body, secret: secret, platformNowSeconds: t - offset)
        #expect(check == (valid ? .valid : .outsideWindow(skewSeconds: offset)))
    }

    @Test func missingAndMalformedHeaders() {
        #expect(Signature.verify(header: nil, body: body, secret: secret, platformNowSeconds: 0) == .missing)
        let cases = [
            "", "v1=\(bodyMAC)", "t=1700000000", "t=abc,v1=\(bodyMAC)", "t=1700000000,v1=xyz",
            "t=1700000000,v1=\(bodyMAC.uppercased())", "t=1700000000,v1=\(bodyMAC.dropLast(2))",
            "t=1,t=2,v1=\(bodyMAC)", "t1700000000,v1=\(bodyMAC)",
        ]
        for header in cases {
            let check = Signature.verify(header: header, body: body, secret: secret, platformNowSeconds: 1_700_000_000)
            guard case .malformed = check else {
                Issue.record("\"\(header)\" gave \(check), expected .malformed")
                continue
            }
        }
    }

    @Test func explanationsNeverContainTheSecret() {
        let checks: [SignatureCheck] = [
            .missing, .malformed("x"), .mismatch, .outsideWindow(skewSeconds: 400), .valid,
        ]
        for c in checks { #expect(!c.explanation.contains(secret)) }
    }
}
