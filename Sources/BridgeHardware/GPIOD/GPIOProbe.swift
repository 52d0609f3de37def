import BridgeCore

/// What `doctor` checks of a profile's GPIO part, without requesting anything: each chip found by label and
/// openable, each line there and free (or held by the agent itself), one finding each with the fix.
public enum GPIOProbe {
    public struct Finding: Sendable, Equatable {
        public enum Level: String, Sendable { case ok = "OK", warn = "WARN", fail = "FAIL" }
        public var level: Level
        /// `gpio chip header`, `gpio line in1`.
        public var what: String
        public var detail: String
    }

    public static func check(_ profile: BoardProfile, devices: String = "/dev") -> [Finding] {
        var findings: [Finding] = []
        let found = GPIOChipFinder.openAll(devices: devices)
        for spec in profile.gpioChips {
            let name = "gpio chip \(spec.id)"
            let lines = GPIOChipLink.lines(of: spec, in: profile)
            let chip: GPIODChip
            do throws(GPIOFailure) { chip = try GPIOChipFinder.chip(for: spec, in: found, devices: devices) } catch {
                findings.append(Finding(level: .fail, what: name, detail: error.message))
                continue
            }
            do throws(GPIOFailure) { _ = try GPIOChipLink.resolve(lines, on: chip) } catch where error.kind == .conflict {
                findings.append(Finding(level: .fail, what: name, detail: error.message))
            } catch {}
            findings.append(Finding(level: .ok, what: name, detail: "\(chip.path) label \(chip.shownLabel), \(chip.lineCount) lines, libgpiod \(GPIODLibrary.version)"))
            for line in lines {
                let ref = ConfigText.printable("\(line.ref)")
                let what = "gpio \(line.output ? "output" : "input") \(line.id)"
                do throws(GPIOFailure) {
                    let offset = try chip.offset(of: line.ref)
                    guard let info = chip.info(offset: offset) else {
                        findings.append(Finding(level: .fail, what: what, detail: "\(ref) (offset \(offset)) of \(chip.path) cannot be read"))
                        continue
                    }
                    let at = "\(ref) (offset \(offset)) of \(chip.path)"
                    if !info.used {
                        findings.append(Finding(level: .ok, what: what, detail: "\(at) is free"))
                    } else if info.consumer == GPIOChipLink.consumer {
                        findings.append(Finding(level: .ok, what: what, detail: "\(at) is held by the agent (consumer \(GPIOChipLink.consumer))"))
                    } else {
                        findings.append(Finding(level: .fail, what: what, detail: GPIOFailure.busy(line: ref, offset: offset, path: chip.path, consumer: info.consumer).message))
                    }
                } catch {
                    findings.append(Finding(level: .fail, what: what, detail: error.message))
                }
            }
        }
        return findings
    }
}
