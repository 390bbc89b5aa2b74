/// The built-in rules: written as data in `Rules/*.toml`, compiled in from
/// `BuiltInRules.generated.swift` (`swift run keyseal-rulegen` regenerates it).
public enum BuiltInRules {}
