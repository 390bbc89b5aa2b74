/// An image finding's line in the text report: image, platform, where (layer and instruction, or
/// config entry), and whether a container still sees the file.
enum ImageTextReport {
    static func occurrence(_ finding: Finding, _ image: ImagePlace, paint: (String, String) -> String) -> String {
        let e = TerminalText.escape as (String) -> String
        var out = "    \(e(image.image)) \(e(image.platform))"
        if let digest = image.imageDigest { out += " " + paint(String(digest.prefix(19)), "2") }
        out += "\n"
        switch image.source {
        case .layer:
            let shown = (image.visibility ?? .visible).stillInImage.map { paint($0, "33") } ?? "in the final filesystem"
            out += "      \(paint(e(finding.place), "1"))  \(shown)\n"
            let layer = "layer \(image.layerIndex.map(String.init) ?? "?") " + (image.diffID ?? image.layerDigest ?? "").prefix(19)
            out += "      \(e(layer))" + (image.instruction.map { "  made by: \(e(String($0.prefix(160))))" } ?? "") + "\n"
        case .config, .history, .annotation:
            out += "      \(paint("\(image.source.rawValue): \(e(finding.path))", "1"))\n"
        case .attestation:
            out += "      \(paint("attestation \(e(image.entry ?? ""))", "1")) line \(finding.line)\n"
        }
        return out
    }
}
