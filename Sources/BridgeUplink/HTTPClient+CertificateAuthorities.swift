import BridgeCore
import CCurl
import Glibc

/// Which certificate authorities an `HTTPClient` trusts, decided once when it is made.
///
/// The point is `Options.caFile` *adding to* the system store: a dealer's
/// private platform CA must not make the public one stop working.
enum CertificateAuthorities {
    /// No extra CA and no hashed system folder: libcurl's built-in bundle, untouched.
    case system
    /// No extra CA: the system's hashed folder as `CAPATH` and no bundle (`CAINFO` unset).
    ///
    /// OpenSSL then reads only the CA a server's chain needs, by subject hash,
    /// instead of parsing the whole bundle (~140 certificates, ~0.6 MB of heap)
    /// into every connection's store: libcurl's default on Debian sets both,
    /// and the agent holds three connections. On Debian the folder and the
    /// bundle are made together from the same certificates by
    /// `update-ca-certificates`, so the trusted set is the same.
    case systemDirectory(String)
    /// The extra CA file as `CAINFO`, the system's hashed folder as `CAPATH`; OpenSSL loads both.
    case fileAndDirectory(file: String, directory: String)
    /// No hashed folder: system bundle + extra CA concatenated, owned here, lent to libcurl (`CURL_BLOB_NOCOPY`).
    case blob(UnsafeMutableRawBufferPointer)
    /// Neither a system folder nor a bundle could be found: only the extra CA is trusted.
    case fileOnly(String)

    /// Checks `options.caFile` (readable, holds a PEM certificate) and picks how to combine it with the system store.
    static func make(options: HTTPClient.Options, handle: UnsafeMutableRawPointer) throws(HTTPError) -> CertificateAuthorities {
        let hashedDirectory = (options.systemCADirectory ?? builtIn(handle, CURLINFO_CAPATH)).flatMap {
            isHashedCertificateDirectory($0) ? $0 : nil
        }
        guard let caFile = options.caFile else { return hashedDirectory.map { .systemDirectory($0) } ?? .system }
        let extra: [UInt8]
        switch SmallFile.read(caFile, limit: 4 << 20) {
        case .success(let file): extra = file.bytes
        case .failure(let failure):
            throw HTTPError(code: .tls, curlCode: 0, message: "ca_file \(caFile) \(failure.reason)")
        }
        guard contains(extra, "-----BEGIN CERTIFICATE-----") else {
            throw HTTPError(code: .tls, curlCode: 0,
                            message: "ca_file \(caFile): no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)")
        }
        if let hashedDirectory { return .fileAndDirectory(file: caFile, directory: hashedDirectory) }
        if let bundlePath = options.systemCAFile ?? builtIn(handle, CURLINFO_CAINFO),
           case .success(let bundle) = SmallFile.read(bundlePath, limit: 16 << 20) {
            let joined = bundle.bytes + Array("\n".utf8) + extra
            let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: joined.count, alignment: 1)
            joined.withUnsafeBytes { storage.copyMemory(from: $0) }
            return .blob(storage)
        }
        return .fileOnly(caFile)
    }

    /// The setopt calls to repeat after every `curl_easy_reset`.
    func setters(handle: UnsafeMutableRawPointer) -> [() -> CURLcode] {
        switch self {
        case .system:
            return []
        case .systemDirectory(let directory):
            return [{ chekt_curl_setopt_string(handle, CURLOPT_CAINFO, nil) },
                    { chekt_curl_setopt_string(handle, CURLOPT_CAPATH, directory) }]
        case .fileAndDirectory(let file, let directory):
            return [{ chekt_curl_setopt_string(handle, CURLOPT_CAINFO, file) },
                    { chekt_curl_setopt_string(handle, CURLOPT_CAPATH, directory) }]
        case .blob(let storage):
            return [{ chekt_curl_setopt_blob(handle, CURLOPT_CAINFO_BLOB, storage.baseAddress, storage.count, UInt32(CURL_BLOB_NOCOPY)) }]
        case .fileOnly(let file):
            return [{ chekt_curl_setopt_string(handle, CURLOPT_CAINFO, file) }]
        }
    }

    /// Frees the blob; called from `HTTPClient.deinit`, after the handle that borrowed it is gone.
    func release() {
        if case .blob(let storage) = self { storage.deallocate() }
    }

    /// libcurl's compiled-in CA location (`CURLINFO_CAINFO`/`CURLINFO_CAPATH`, libcurl 7.84+), if any.
    private static func builtIn(_ handle: UnsafeMutableRawPointer, _ info: CURLINFO) -> String? {
        var value: UnsafePointer<CChar>?
        guard chekt_curl_getinfo_string(handle, info, &value) == CURLE_OK, let value else { return nil }
        let s = String(cString: value)
        return s.isEmpty ? nil : s
    }

    /// True when `path` is a folder holding OpenSSL subject-hash names (`5ad8a5d6.0`), which is what CAPATH needs.
    static func isHashedCertificateDirectory(_ path: String) -> Bool {
        guard let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if isSubjectHashName(name) { return true }
        }
        return false
    }

    private static func isSubjectHashName(_ name: String) -> Bool {
        let b = Array(name.utf8)
        guard b.count >= 10, b[8] == UInt8(ascii: ".") else { return false }
        let hex = b[..<8].allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
        let digits = b[9...].allSatisfy { (48...57).contains($0) }
        return hex && digits
    }

    private static func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard haystack.count >= n.count else { return false }
        for start in 0...(haystack.count - n.count) where haystack[start] == n[0] {
            if haystack[start..<(start + n.count)].elementsEqual(n) { return true }
        }
        return false
    }
}
