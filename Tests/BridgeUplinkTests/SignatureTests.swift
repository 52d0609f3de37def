import Foundation
import Testing
@testable import BridgeUplink

@Suite struct SignatureTests {
    let secret = Array("whsec_test_secret".utf8)
    let body = Array(#"{"commands":[],"cursor":"c1"}"#.utf8)
    /// HMAC-SHA256("whsec_test_secret", "1700000000." + body), computed with Python's hmac module.
    let knownMAC = "322bba653bba915363b76de6bda3d7f751a7c18cb06a3cc960a8ce8c08eb8d68"

    @Test func headerMatchesAFixedVector() {
        #expect(Signature.header(secret: secret, body: body, unixSeconds: 1_700_000_000) == "t=1700000000,v1=\(knownMAC)")
        // An empty body signs as "": the MAC covers "1700000000." alone.
        #expect(Signature.header(secret: secret, body: [], unixSeconds: 1_700_000_000)
            == "t=1700000000,v1=316b9ab98c15bfa039d243f3196acee619cf29749a91a634e6a8154e2f7b6727")
    }

    @Test func headerMatchesOpenSSL() throws {
        let body = Array(#"{"events":[{"id":"evt_1","seq":1042}]} with bytes é"#.utf8) + [0, 255]
        let output = try TestTools.run("openssl", ["dgst", "-sha256", "-hmac", "rotated-secret-2"], input: Array("1764439200.".utf8) + body)
        // "SHA2-256(stdin)= <hex>" (OpenSSL 3) or "(stdin)= <hex>" (1.1).
        let hex = try #require(output.split(separator: " ").last).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hex.count == 64)
        #expect(Signature.header(secret: Array("rotated-secret-2".utf8), body: body, unixSeconds: 1_764_439_200)
            == "t=1764439200,v1=\(hex)")
    }

    @Test func verifiesWhatItSigns() {
        let header = Signature.header(secret: secret, body: body, unixSeconds: 1_700_000_000)
        #expect(Signature.verify(header: header, body: body, secrets: [secret], platformNowSeconds: 1_700_000_000) == .valid)
        #expect(Signature.verify(header: header, body: body, secrets: [secret], platformNowSeconds: 1_700_000_000).isValid)
    }

    @Test func toleratesOrderSpacesAndUnknownSchemes() {
        let variants = [
            "v1=\(knownMAC),t=1700000000",
            " t = 1700000000 , v1 = \(knownMAC) ",
            "t=1700000000,\tv1=\(knownMAC),",
            "t=1700000000,v0=deadbeef,v1=\(knownMAC),v2=whatever",
            "t=1700000000,v1=\(knownMAC.uppercased())",
        ]
        for header in variants {
            #expect(Signature.verify(header: header, body: body, secrets: [secret], platformNowSeconds: 1_700_000_000) == .valid,
                    "\(header)")
        }
    }

    @Test func oneOfSeveralV1IsEnough() {
        let other = Signature.header(secret: Array("old-secret".utf8), body: body, unixSeconds: 1_700_000_000)
        let otherMAC = String(other.split(separator: "=").last!)
        let header = "t=1700000000,v1=\(otherMAC),v1=\(knownMAC)"
        #expect(Signature.verify(header: header, body: body, secrets: [secret], platformNowSeconds: 1_700_000_000) == .valid)
        // And the agent may hold several secrets during rotation: any one matching any v1.
        let single = "t=1700000000,v1=\(otherMAC)"
        #expect(Signature.verify(header: single, body: body, secrets: [secret], platformNowSeconds: 1_700_000_000) == .mismatch)
        #expect(Signature.verify(header: single, body: body, secrets: [secret, Array("old-secret".utf8)],
                                 platformNowSeconds: 1_700_000_000) == .valid)
    }

    @Test func tamperedBodyWrongSecretOrTimestampIsMismatch() {
        let header = "t=1700000000,v1=\(knownMAC)"
        var tampered = body
        tampered[tampered.count - 2] = UInt8(ascii: "2")
        #expect(Signature.verify(header: header, body: tampered, secrets: [secret], platformNowSeconds: 1_700_000_000) == .mismatch)
        #expect(Signature.verify(header: header, body: body + [32], secrets: [secret], platformNowSeconds: 1_700_000_000) == .mismatch)
        #expect(Signature.verify(header: header, body: body, secrets: [Array("whsec_test_secreT".utf8)],
                                 platformNowSeconds: 1_700_000_000) == .mismatch)
        #expect(Signature.verify(header: header, body: body, secrets: [], platformNowSeconds: 1_700_000_000) == .mismatch)
        // t is covered by the MAC: moving it breaks the signature, and a forged t is not reported as a clock problem.
        #expect(Signature.verify(header: "t=1700000001,v1=\(knownMAC)", body: body, secrets: [secret],
                                 platformNowSeconds: 1_700_000_001) == .mismatch)
        #expect(Signature.verify(header: "t=1800000000,v1=\(knownMAC)", body: body, secrets: [secret],
                                 platformNowSeconds: 1_700_000_000) == .mismatch)
        var flipped = Array(knownMAC.utf8)
        flipped[63] = flipped[63] == UInt8(ascii: "8") ? UInt8(ascii: "9") : UInt8(ascii: "8")
        #expect(Signature.verify(header: "t=1700000000,v1=\(String(decoding: flipped, as: UTF8.self))", body: body,
                                 secrets: [secret], platformNowSeconds: 1_700_000_000) == .mismatch)
    }

    @Test func windowEdgesArePlusMinus300Seconds() {
        let header = "t=1700000000,v1=\(knownMAC)"
        func check(now: Int64) -> SignatureCheck {
            Signature.verify(header: header, body: body, secrets: [secret], platformNowSeconds: now)
        }
        #expect(check(now: 1_700_000_300) == .valid)
        #expect(check(now: 1_699_999_700) == .valid)
        #expect(check(now: 1_700_000_301) == .outsideWindow(skewS: -301))
        #expect(check(now: 1_699_999_699) == .outsideWindow(skewS: 301))
        #expect(check(now: 1_000_000_000) == .outsideWindow(skewS: 700_000_000))
        #expect(Signature.verify(header: header, body: body, secrets: [secret], platformNowSeconds: 1_700_000_010,
                                 toleranceSeconds: 5) == .outsideWindow(skewS: -10))
    }

    @Test func missingAndMalformedHeaders() {
        func check(_ header: String?) -> SignatureCheck {
            Signature.verify(header: header, body: body, secrets: [secret], platformNowSeconds: 1_700_000_000)
        }
        #expect(check(nil) == .missing)
        #expect(check("") == .missing)
        #expect(check("   ") == .missing)
        let malformed = [
            "garbage",
            "v1=\(knownMAC)",  // no t
            "t=1700000000",  // no v1
            "t=1700000000,t=1700000000,v1=\(knownMAC)",  // two t
            "t=abc,v1=\(knownMAC)",
            "t=-1700000000,v1=\(knownMAC)",
            "t=+1700000000,v1=\(knownMAC)",
            "t=,v1=\(knownMAC)",
            "t=1700000000000000,v1=\(knownMAC)",  // more than 12 digits
            "t=1700000000,v1=zz",  // no well-formed v1
            "t=1700000000,v1=\(knownMAC.dropLast())",  // odd length
            "t=1700000000,v1=\(knownMAC.dropLast(2))",  // 31 bytes
            "t=1700000000;v1=\(knownMAC)",
            "t=1700000000,v1",
        ]
        for header in malformed { #expect(check(header) == .malformed, "\(header)") }
        // A malformed v1 next to a good one does not spoil it.
        #expect(check("t=1700000000,v1=nothex,v1=\(knownMAC)") == .valid)
    }

    @Test func outcomesDescribeThemselves() {
        #expect(SignatureCheck.outsideWindow(skewS: 301).description.contains("301"))
        #expect(SignatureCheck.missing.description.contains("X-Chekt-Signature"))
        #expect(!SignatureCheck.mismatch.isValid)
    }
}
