import CGPIOD

/// libgpiod, linked through the `CGPIOD` system-library target.
public enum GPIODLibrary {
    /// The version of the libgpiod linked in (`gpiod_version_string`), e.g. `1.6.3`.
    public static var version: String { String(cString: gpiod_version_string()) }
}
