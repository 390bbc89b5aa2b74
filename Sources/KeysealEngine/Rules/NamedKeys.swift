/// Providers whose keys have no prefix of their own (hex, UUIDs, plain alphanumerics): recognised by
/// the name they are assigned to. One line each: id, provider, description, name pattern, value
/// pattern, an example name that matches it, and the value's example template.
extension BuiltInRules {
    static let namedKeyTable: [(String, String, String, String, String, String, String)] = [
        ("confluent-api-secret", "Confluent", "Confluent Cloud API secret", "confluent[A-Za-z0-9_.-]{0,20}secret", "[A-Za-z0-9+/]{64}", "CONFLUENT_API_SECRET", "⟪b64:64⟫"),
        ("mongodb-atlas-private-key", "MongoDB Atlas", "MongoDB Atlas API private key", "atlas[A-Za-z0-9_.-]{0,20}private[_-]?key", uuid, "ATLAS_PRIVATE_KEY", uuidTemplate),
        ("sumologic-access-key", "Sumo Logic", "Sumo Logic access key", "sumo[A-Za-z0-9_.-]{0,20}(?:access)?[_-]?key", "[A-Za-z0-9]{64}", "SUMOLOGIC_ACCESS_KEY", "⟪an:64⟫"),
        ("zoom-client-secret", "Zoom", "Zoom app client secret", "zoom[A-Za-z0-9_.-]{0,20}secret", "[A-Za-z0-9]{32}", "ZOOM_CLIENT_SECRET", "⟪an:32⟫"),
        ("twitch-client-secret", "Twitch", "Twitch client secret or OAuth token", "twitch[A-Za-z0-9_.-]{0,20}(?:secret|token)", "[a-z0-9]{30}", "TWITCH_CLIENT_SECRET", "⟪lo:30⟫"),
        ("spotify-client-secret", "Spotify", "Spotify client secret", "spotify[A-Za-z0-9_.-]{0,20}secret", "[a-f0-9]{32}", "SPOTIFY_CLIENT_SECRET", "⟪hex:32⟫"),
        ("bigcommerce-access-token", "BigCommerce", "BigCommerce API access token", "bigcommerce[A-Za-z0-9_.-]{0,20}token", "[a-z0-9]{31,40}", "BIGCOMMERCE_ACCESS_TOKEN", "⟪lo:31⟫"),
        ("etsy-api-key", "Etsy", "Etsy API keystring or shared secret", "etsy[A-Za-z0-9_.-]{0,20}(?:key|secret)", "[a-z0-9]{24}", "ETSY_API_KEY", "⟪lo:24⟫"),
        ("plivo-auth-token", "Plivo", "Plivo auth token", "plivo[A-Za-z0-9_.-]{0,20}(?:token|secret)", "[A-Za-z0-9]{40}", "PLIVO_AUTH_TOKEN", "⟪an:40⟫"),
        ("messagebird-api-key", "MessageBird", "MessageBird (Bird) API access key", "messagebird[A-Za-z0-9_.-]{0,20}key", "[A-Za-z0-9]{25}", "MESSAGEBIRD_API_KEY", "⟪an:25⟫"),
        ("hetzner-cloud-token", "Hetzner", "Hetzner Cloud API token", "(?:hcloud|hetzner)[A-Za-z0-9_.-]{0,20}token", "[A-Za-z0-9]{64}", "HCLOUD_TOKEN", "⟪an:64⟫"),
        ("linode-api-token", "Akamai Linode", "Linode personal access token", "linode[A-Za-z0-9_.-]{0,20}token", "[a-f0-9]{64}", "LINODE_TOKEN", "⟪hex:64⟫"),
        ("vultr-api-key", "Vultr", "Vultr API key", "vultr[A-Za-z0-9_.-]{0,20}(?:key|token)", "[A-Z0-9]{36}", "VULTR_API_KEY", "⟪up:36⟫"),
        ("ovh-application-secret", "OVHcloud", "OVHcloud application secret or consumer key", "ovh[A-Za-z0-9_.-]{0,20}(?:secret|consumer[_-]?key)", "[A-Za-z0-9]{32}", "OVH_APPLICATION_SECRET", "⟪an:32⟫"),
        ("gitea-access-token", "Gitea", "Gitea or Forgejo access token", "(?:gitea|forgejo)[A-Za-z0-9_.-]{0,20}token", "[a-f0-9]{40}", "GITEA_TOKEN", "⟪hex:40⟫"),
        ("railway-api-token", "Railway", "Railway API or project token", "railway[A-Za-z0-9_.-]{0,20}token", uuid, "RAILWAY_TOKEN", uuidTemplate),
        ("neon-api-key", "Neon", "Neon API key", "neon[A-Za-z0-9_.-]{0,20}(?:api)?[_-]?key", "[a-z0-9]{64}", "NEON_API_KEY", "⟪lo:64⟫"),
        ("pinecone-api-key", "Pinecone", "Pinecone API key", "pinecone[A-Za-z0-9_.-]{0,20}key", "(?:pcsk_[A-Za-z0-9_]{40,100}|\(uuid))", "PINECONE_API_KEY", uuidTemplate),
        ("assemblyai-api-key", "AssemblyAI", "AssemblyAI API key", "assembly[_-]?ai[A-Za-z0-9_.-]{0,20}key", "[a-f0-9]{32}", "ASSEMBLYAI_API_KEY", "⟪hex:32⟫"),
        ("deepgram-api-key", "Deepgram", "Deepgram API key", "deepgram[A-Za-z0-9_.-]{0,20}key", "[a-f0-9]{40}", "DEEPGRAM_API_KEY", "⟪hex:40⟫"),
        ("stability-api-key", "Stability AI", "Stability AI API key", "stability[A-Za-z0-9_.-]{0,20}key", "sk-[A-Za-z0-9]{48}", "STABILITY_API_KEY", "sk-⟪an:48⟫"),
        ("together-api-key", "Together AI", "Together AI API key", "together[A-Za-z0-9_.-]{0,20}key", "(?:tgp_v1_)?[A-Za-z0-9_-]{40,64}", "TOGETHER_API_KEY", "⟪hex:64⟫"),
        ("fireworks-api-key", "Fireworks AI", "Fireworks AI API key", "fireworks[A-Za-z0-9_.-]{0,20}key", "(?:fw_)?[A-Za-z0-9]{24,48}", "FIREWORKS_API_KEY", "fw_⟪an:24⟫"),
        ("mux-token-secret", "Mux", "Mux access token secret", "mux[A-Za-z0-9_.-]{0,20}secret", "[A-Za-z0-9+/]{75}", "MUX_TOKEN_SECRET", "⟪b64:75⟫"),
        ("wasabi-secret-key", "Wasabi", "Wasabi secret access key", "wasabi[A-Za-z0-9_.-]{0,20}secret", "[A-Za-z0-9/+]{40}", "WASABI_SECRET_KEY", "⟪b64:40⟫"),
        ("cloudsmith-api-key", "Cloudsmith", "Cloudsmith API key", "cloudsmith[A-Za-z0-9_.-]{0,20}key", "[a-f0-9]{40}", "CLOUDSMITH_API_KEY", "⟪hex:40⟫"),
        ("lightstep-access-token", "ServiceNow Cloud Observability", "Lightstep access token", "lightstep[A-Za-z0-9_.-]{0,20}token", "[A-Za-z0-9+/=]{84,}", "LIGHTSTEP_ACCESS_TOKEN", "⟪b64:86⟫"),
    ]

    static let namedKeys: [Rule] = namedKeyTable.map { id, provider, description, name, value, exampleName, template in
        .named(id, provider, description, name: name, value: value,
               positives: ["\(exampleName)=\(template)", "\(exampleName.lowercased()): \"\(template)\""],
               negatives: ["\(exampleName)=${\(exampleName)}", "\(exampleName)=short"])
    } + [
        // FullStory: a key made since August 2022 starts with its data centre (`na1`, `eu1`) as its
        // first three characters; older keys are base64 without it (FullStory's own hauser example
        // config holds one of 100 characters). The page does not say what separates the region from
        // the rest, so a `.` is accepted there.
        .named("fullstory-api-key", "FullStory", "FullStory API key", name: "fullstory[A-Za-z0-9_.-]{0,20}key",
               value: "(?:(?:na|eu)[0-9]\\.)?[A-Za-z0-9+/=_-]{40,200}",
               positives: ["FULLSTORY_API_KEY=na1.⟪url:64⟫", "fullstory_api_key: \"eu1.⟪b64:60⟫\"", "FULLSTORY_API_KEY=⟪b64:98⟫=="],
               negatives: ["FULLSTORY_API_KEY=${FULLSTORY_API_KEY}", "FULLSTORY_API_KEY=short", "FULLSTORY_API_KEY=na1,⟪url:64⟫"],
               references: ["https://developer.fullstory.com/server/getting-started/",
                            "https://github.com/fullstorydev/hauser/blob/master/example-config.toml"]),
    ]

    static let prefixedLater: [Rule] = [
        .token("posthog-personal-api-key", "PostHog", "PostHog personal API key", "\\b(phx_[A-Za-z0-9]{43})\\b",
               positives: ["POSTHOG_PERSONAL_API_KEY=phx_⟪an:43⟫", "key: phx_⟪an:43⟫"], negatives: ["phc_⟪an:43⟫"]),
        .token("axiom-api-token", "Axiom", "Axiom API or personal token", "\\b(xa[ap]t-\(uuid))\\b",
               positives: ["AXIOM_TOKEN=xaat-\(uuidTemplate)", "token: xapt-\(uuidTemplate)"], negatives: ["xaat-⟪hex:8⟫"]),
        // id:secret in hex has no literal; anchored on the name (unanchored, it cost as much as 30 rules).
        .named("ghost-admin-api-key", "Ghost", "Ghost Admin API key (id:secret)", name: "ghost[A-Za-z0-9_.-]{0,20}key",
               value: "[a-f0-9]{24}:[a-f0-9]{64}",
               positives: ["GHOST_ADMIN_API_KEY=⟪hex:24⟫:⟪hex:64⟫", "ghost_admin_key: '⟪hex:24⟫:⟪hex:64⟫'"],
               negatives: ["GHOST_ADMIN_API_KEY=000000000000000000000000"]),
    ]
}
