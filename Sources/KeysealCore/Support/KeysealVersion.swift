/// The version keyseal reports (in `--version`, SARIF and the store) and where it comes from.
public enum KeysealVersion {
    public static let current = "0.1.0"
    public static let informationURI = "https://github.com/keyseal/keyseal"
}
