/// The agent's version, as `version` prints and `User-Agent` carries.
public enum AgentVersion {
    public static let string = "0.1.0"
}
