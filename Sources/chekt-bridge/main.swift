import BridgeAgent
print("chekt-bridge \(AgentVersion.string)")
