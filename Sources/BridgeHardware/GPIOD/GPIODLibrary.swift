import CGPIODAdapter

/// libgpiod, through CGPIODAdapter: 1.6 (the v1 API) or 2.x, whichever the build found.
public enum GPIODLibrary {
    /// The version of the libgpiod linked in, e.g. `1.6.3` or `2.1.3`.
    public static var version: String { String(cString: chekt_gpio_library_version()) }
    /// The libgpiod API the agent was built against: 1 (libgpiod 1.x) or 2 (2.x).
    public static var apiMajor: Int { Int(chekt_gpio_api_major()) }
}
