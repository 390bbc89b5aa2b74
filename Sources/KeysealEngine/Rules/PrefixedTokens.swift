/// Providers whose tokens carry a prefix (or a URL) of their own, written from each provider's
/// documented format. One line each: id, provider, description, the regex (capture group 1 is the
/// secret), a template that must match, and one that must not. Each entry's positives are the
/// template assigned in an env file and quoted in YAML.
extension BuiltInRules {
    static let prefixedTokenTable: [(String, String, String, String, String, String)] = [
        ("adafruit-io-key", "Adafruit IO", "Adafruit IO key", "\\b(aio_[A-Za-z0-9]{28})\\b", "aio_⟪an:28⟫", "aio_⟪an:8⟫"),
        ("apify-api-token", "Apify", "Apify API token", "\\b(apify_api_[A-Za-z0-9]{36})\\b", "apify_api_⟪an:36⟫", "apify_api_⟪an:9⟫"),
        ("maxmind-license-key", "MaxMind", "MaxMind license key", "\\b([A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk)\\b", "⟪an:6⟫_⟪an:29⟫_mmk", "⟪an:6⟫_⟪an:9⟫_mmk"),
        ("rootly-api-key", "Rootly", "Rootly API key", "\\b(rootly_[a-f0-9]{64})\\b", "rootly_⟪hex:64⟫", "rootly_⟪hex:16⟫"),
        ("settlemint-token", "SettleMint", "SettleMint personal, application or service token", "\\b(sm_(?:pat|aat|sat)_[A-Za-z0-9]{16})\\b", "sm_pat_⟪an:16⟫", "sm_pat_⟪an:6⟫"),
        ("sourcegraph-access-token", "Sourcegraph", "Sourcegraph access token", "\\b(sgp_(?:[a-f0-9]{16}_|local_)[a-f0-9]{40})\\b", "sgp_⟪hex:16⟫_⟪hex:40⟫", "sgp_⟪hex:16⟫_⟪hex:8⟫"),
        ("trigger-dev-key", "Trigger.dev", "Trigger.dev secret or personal access key", "\\b(tr_(?:dev|prod|stg|pat)_[A-Za-z0-9]{20,40})\\b", "tr_prod_⟪an:20⟫", "tr_prod_⟪an:6⟫"),
        ("inngest-signing-key", "Inngest", "Inngest signing key", "\\b(signkey-(?:prod|test|branch)-[a-f0-9]{64})\\b", "signkey-prod-⟪hex:64⟫", "signkey-prod-⟪hex:12⟫"),
        ("zapier-webhook", "Zapier", "Zapier catch-hook URL (anyone holding it can trigger the Zap)", "(https://hooks\\.zapier\\.com/hooks/catch/[0-9]{5,12}/[a-z0-9]{6,12}/?)", "https://hooks.zapier.com/hooks/catch/⟪dig:8⟫/⟪lo:7⟫/", "https://hooks.zapier.com/hooks/catch/"),
        ("google-chat-webhook", "Google Chat", "Google Chat incoming webhook URL", "(https://chat\\.googleapis\\.com/v1/spaces/[A-Za-z0-9_-]{8,20}/messages\\?key=[A-Za-z0-9_-]{39}&token=[A-Za-z0-9_%=-]{40,64})", "https://chat.googleapis.com/v1/spaces/AAAA⟪url:7⟫/messages?key=AIza⟪url:35⟫&token=⟪url:43⟫%3D", "https://chat.googleapis.com/v1/spaces/AAAA/messages"),
        ("feishu-webhook", "Feishu / Lark", "Feishu or Lark custom bot webhook URL", "(https://open\\.(?:feishu\\.cn|larksuite\\.com)/open-apis/bot/v2/hook/\(uuid))", "https://open.feishu.cn/open-apis/bot/v2/hook/\(uuidTemplate)", "https://open.feishu.cn/open-apis/bot/v2/hook/"),
        ("dingtalk-webhook", "DingTalk", "DingTalk robot webhook URL", "(https://oapi\\.dingtalk\\.com/robot/send\\?access_token=[a-f0-9]{64})", "https://oapi.dingtalk.com/robot/send?access_token=⟪hex:64⟫", "https://oapi.dingtalk.com/robot/send?access_token="),
        ("wecom-webhook", "WeCom", "WeCom (WeChat Work) group robot webhook URL", "(https://qyapi\\.weixin\\.qq\\.com/cgi-bin/webhook/send\\?key=\(uuid))", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=\(uuidTemplate)", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key="),
        ("ifttt-webhook-key", "IFTTT", "IFTTT Webhooks service key", "(https://maker\\.ifttt\\.com/(?:trigger/[A-Za-z0-9_-]+/(?:json/)?with/key|use)/[A-Za-z0-9_-]{22,43})", "https://maker.ifttt.com/trigger/door/with/key/⟪url:22⟫", "https://maker.ifttt.com/trigger/door/with/key/"),
        ("azure-logic-app-webhook", "Azure Logic Apps", "Azure Logic Apps / Power Automate HTTP trigger URL with its signature", "(https://[a-z0-9.-]+\\.logic\\.azure\\.com(?::443)?/workflows/[a-f0-9]{32}/triggers/[A-Za-z0-9_]+/paths/invoke\\?[^\\s\"']*sig=[A-Za-z0-9_-]{43})", "https://prod-12.westeurope.logic.azure.com:443/workflows/⟪hex:32⟫/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=⟪url:43⟫", "https://prod-12.westeurope.logic.azure.com/workflows/⟪hex:32⟫/triggers/manual"),
        ("meta-access-token", "Meta (Facebook)", "Facebook / Meta Graph API access token", "\\b(EAA[BCDGIQ][A-Za-z0-9]{100,400})\\b", "EAAG⟪an:180⟫", "EAAG⟪an:20⟫"),
        ("exoscale-api-key", "Exoscale", "Exoscale API key", "\\b(EXO[a-f0-9]{24})\\b", "EXO⟪hex:24⟫", "EXO⟪hex:10⟫"),
        ("akamai-edgegrid-token", "Akamai", "Akamai EdgeGrid client or access token", "\\b(akab-[a-z0-9]{16}-[a-z0-9]{16})\\b", "akab-⟪lo:16⟫-⟪lo:16⟫", "akab-⟪lo:16⟫"),
        ("honeybadger-token", "Honeybadger", "Honeybadger personal auth token", "\\b(hbp_[A-Za-z0-9]{36})\\b", "hbp_⟪an:36⟫", "hbp_⟪an:10⟫"),
        ("jina-api-key", "Jina AI", "Jina AI API key", "\\b(jina_[A-Za-z0-9_-]{50,80})\(Piece.end)", "jina_⟪hex:32⟫⟪an:28⟫", "jina_⟪an:10⟫"),
        ("nvidia-api-key", "NVIDIA", "NVIDIA API catalog / NGC API key", "\\b(nvapi-[A-Za-z0-9_-]{64})\(Piece.end)", "nvapi-⟪url:64⟫", "nvapi-⟪url:20⟫"),
        ("langfuse-secret-key", "Langfuse", "Langfuse secret key", "\\b(sk-lf-\(uuid))\\b", "sk-lf-\(uuidTemplate)", "sk-lf-⟪hex:8⟫"),
        ("xata-api-key", "Xata", "Xata API key", "\\b(xau_[A-Za-z0-9]{32,40})\\b", "xau_⟪an:36⟫", "xau_⟪an:12⟫"),
        ("cockroachdb-cloud-key", "CockroachDB", "CockroachDB Cloud API key", "\\b(CCDB1_[A-Za-z0-9]{22}_[A-Za-z0-9]{40})\\b", "CCDB1_⟪an:22⟫_⟪an:40⟫", "CCDB1_⟪an:22⟫"),
        ("prisma-accelerate-url", "Prisma", "Prisma Accelerate / Postgres connection string with its API key", "(prisma(?:\\+postgres)?://accelerate\\.prisma-data\\.net/\\?api_key=eyJ[A-Za-z0-9_.-]{40,})", "prisma://accelerate.prisma-data.net/?api_key=eyJ⟪url:60⟫.eyJ⟪url:90⟫.⟪url:43⟫", "prisma://accelerate.prisma-data.net/?api_key=__API_KEY__"),
        ("apollo-graphos-key", "Apollo GraphQL", "Apollo GraphOS graph or personal API key", "\\b((?:service:[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{22})|(?:user:gh\\.[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{22}))(?:[^A-Za-z0-9_:-]|$)", "service:my-graph:⟪url:22⟫", "service:my-graph:short"),
        ("kong-konnect-token", "Kong", "Kong Konnect personal or system access token", "\\b([ks]pat_[A-Za-z0-9]{40,60})\\b", "kpat_⟪an:49⟫", "kpat_⟪an:10⟫"),
        ("foursquare-api-key", "Foursquare", "Foursquare Places API key", "\\b(fsq3[A-Za-z0-9+/]{40,48}={0,2})", "fsq3⟪b64:44⟫", "fsq3⟪b64:10⟫"),
        ("covalent-api-key", "Covalent", "Covalent (GoldRush) API key", "\\b((?:cqt_[A-Za-z0-9]{26,30})|(?:ckey_[a-z0-9]{27}))\\b", "cqt_⟪an:28⟫", "cqt_⟪an:8⟫"),
        ("midtrans-server-key", "Midtrans", "Midtrans server key", "\\b((?:SB-)?Mid-server-[A-Za-z0-9_-]{24})\(Piece.end)", "Mid-server-⟪url:24⟫", "Mid-server-⟪an:8⟫"),
        ("mailersend-token", "MailerSend", "MailerSend API token", "\\b(mlsn\\.[a-f0-9]{64})\\b", "mlsn.⟪hex:64⟫", "mlsn.⟪hex:16⟫"),
        ("onesignal-api-key", "OneSignal", "OneSignal app or organization REST API key", "\\b(os_v2_(?:app|org)_[a-z0-9]{50,200})\\b", "os_v2_app_⟪lo:113⟫", "os_v2_app_⟪lo:12⟫"),
        ("telnyx-api-key", "Telnyx", "Telnyx API v2 key", "\\b(KEY[0-9A-F]{32}_[A-Za-z0-9]{22})\\b", "KEY⟪HEX:32⟫_⟪an:22⟫", "KEY⟪HEX:32⟫"),
        ("pinterest-access-token", "Pinterest", "Pinterest API access token", "\\b(pina_[A-Za-z0-9]{60,200})\\b", "pina_⟪an:112⟫", "pina_⟪an:12⟫"),
        ("clickup-api-token", "ClickUp", "ClickUp personal API token", "\\b(pk_[0-9]{4,12}_[A-Z0-9]{32})\\b", "pk_⟪dig:8⟫_⟪up:32⟫", "pk_⟪dig:8⟫_⟪up:8⟫"),
        ("jetbrains-permanent-token", "JetBrains", "JetBrains Hub / YouTrack / Marketplace permanent token", "\\b(perm[:-][A-Za-z0-9+/=]{2,64}\\.[A-Za-z0-9+/=]{2,64}\\.[A-Za-z0-9]{30})\\b", "perm:⟪b64:12⟫.⟪b64:8⟫.⟪an:30⟫", "perm:admin.read.write"),
        ("wix-api-key", "Wix", "Wix API key", "\\b(IST\\.eyJ[A-Za-z0-9_-]{40,}\\.[A-Za-z0-9_-]{40,}\\.[A-Za-z0-9_-]{40,})\(Piece.end)", "IST.eyJ⟪url:60⟫.⟪url:200⟫.⟪url:342⟫", "IST.eyJ⟪url:10⟫"),
        ("configcat-sdk-key", "ConfigCat", "ConfigCat SDK key", "\\b(configcat-sdk-1/[A-Za-z0-9_-]{22}/[A-Za-z0-9_-]{22})\(Piece.end)", "configcat-sdk-1/⟪url:22⟫/⟪url:22⟫", "configcat-sdk-1/⟪url:22⟫"),
        ("flagsmith-server-key", "Flagsmith", "Flagsmith server-side environment key", "\\b(ser\\.[A-Za-z0-9]{22})\\b", "ser.⟪an:22⟫", "ser.⟪an:8⟫"),
        ("teamcity-access-token", "JetBrains TeamCity", "TeamCity access token", "\\b(eyJ0eXAiOiAiVENWMiJ9\\.[A-Za-z0-9_-]{20,}\\.[A-Za-z0-9_-]{20,})\(Piece.end)", "eyJ0eXAiOiAiVENWMiJ9.⟪url:36⟫.⟪url:48⟫", "eyJ0eXAiOiAiVENWMiJ9.short"),
        ("bitwarden-access-token", "Bitwarden", "Bitwarden Secrets Manager machine-account access token", "\\b(0\\.\(uuid)\\.[A-Za-z0-9]{30}:[A-Za-z0-9+/]{22}==)", "0.\(uuidTemplate).⟪an:30⟫:⟪b64:22⟫==", "0.\(uuidTemplate).short"),
        ("infisical-token", "Infisical", "Infisical service token", "\\b(st\\.[a-f0-9]{24}\\.[a-f0-9]{32}\\.[a-f0-9]{32})\\b", "st.⟪hex:24⟫.⟪hex:32⟫.⟪hex:32⟫", "st.⟪hex:24⟫.⟪hex:32⟫"),
        ("deno-deploy-token", "Deno", "Deno Deploy personal or organization access token", "\\b(dd[pw]_[A-Za-z0-9]{36})\\b", "ddp_⟪an:36⟫", "ddp_⟪an:10⟫"),
        ("coralogix-api-key", "Coralogix", "Coralogix send-your-data or API key", "\\b(cxt[ph]_[A-Za-z0-9]{30})\\b", "cxtp_⟪an:30⟫", "cxtp_⟪an:8⟫"),
        ("socket-api-key", "Socket", "Socket.dev API key", "\\b(sktsec_[A-Za-z0-9_]{40,80})\\b", "sktsec_⟪an:48⟫", "sktsec_⟪an:8⟫"),
        ("anyscale-api-key", "Anyscale", "Anyscale API / endpoint secret", "\\b(esecret_[A-Za-z0-9]{26,64})\\b", "esecret_⟪an:32⟫", "esecret_⟪an:6⟫"),
        ("cerebras-api-key", "Cerebras", "Cerebras inference API key", "\\b(csk-[a-z0-9]{48})\\b", "csk-⟪lo:48⟫", "csk-⟪lo:10⟫"),
        ("helicone-api-key", "Helicone", "Helicone API key", "\\b(sk-helicone-[a-z0-9]{7}-[a-z0-9]{7}-[a-z0-9]{7}-[a-z0-9]{7})\\b", "sk-helicone-⟪lo:7⟫-⟪lo:7⟫-⟪lo:7⟫-⟪lo:7⟫", "sk-helicone-⟪lo:7⟫"),
        ("metabase-api-key", "Metabase", "Metabase API key", "\\b(mb_[A-Za-z0-9+/]{43}=)", "mb_⟪b64:43⟫=", "mb_⟪b64:10⟫="),
        ("dbt-cloud-token", "dbt Labs", "dbt Cloud service or personal access token", "\\b(dbt[cu]_[A-Za-z0-9_-]{40,80})\(Piece.end)", "dbtc_⟪url:52⟫", "dbtc_⟪url:10⟫"),
        ("runpod-api-key", "RunPod", "RunPod API key", "\\b(rpa_[A-Z0-9]{40,60})\\b", "rpa_⟪up:48⟫", "rpa_⟪up:10⟫"),
        ("matrix-access-token", "Matrix", "Matrix (Synapse) access or refresh token", "\\b(sy[tr]_[A-Za-z0-9+/_-]{2,80}_[A-Za-z0-9]{20}_[A-Za-z0-9]{6})\\b", "syt_⟪url:12⟫_⟪an:20⟫_⟪an:6⟫", "syt_⟪an:12⟫_⟪an:6⟫"),
        ("aws-bedrock-api-key", "AWS", "Amazon Bedrock long-term API key", "\\b(ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{40,300}={0,2})", "ABSKQmVkcm9ja0FQSUtleS⟪b64:110⟫=", "ABSKQmVkcm9ja0FQSUtleS⟪b64:10⟫"),
        ("bitcoin-extended-private-key", "Bitcoin", "BIP32 extended private key (xprv/tprv/yprv/zprv): controls a whole wallet", "\\b([xtyzuvYZUV]prv[1-9A-HJ-NP-Za-km-z]{107,108})\\b", "xprv9s21ZrQH143K⟪b58:95⟫", "xprv⟪an:20⟫"),
    ]

    static let prefixedTokens: [Rule] = prefixedTokenTable.map { id, provider, description, regex, template, negative in
        var rule = Rule.token(id, provider, description, regex, positives: ["SECRET=\(template)", "value: '\(template)'"],
                              negatives: [negative])
        switch id {
        case "bitcoin-extended-private-key": rule.checksum = .base58Check
        case "matrix-access-token": rule.checksum = .trailingBase62CRC32
        default: break
        }
        return rule
    }

    /// Wallet keys whose shape alone is too common (a WIF key is 51-52 base58 characters): recognised
    /// by the name they are assigned to; the base58check checksum sets a WIF key's confidence.
    static let walletKeys: [Rule] = [
        // Anchored on the name it is assigned to: a pattern with no literal at all cost as much as
        // the other 230 rules added with it.
        {
            var rule = Rule.named("bitcoin-wif-private-key", "Bitcoin", "Bitcoin private key in wallet import format (WIF)",
                                  name: "(?:^|[^A-Za-z0-9])(?:wif|btc|bitcoin|wallet)[A-Za-z0-9_.-]{0,20}(?:key|wif|secret)",
                                  value: "[5KLc9][1-9A-HJ-NP-Za-km-z]{50,51}", entropy: 4.0,
                                  positives: ["BTC_PRIVATE_KEY=5⟪b58:50⟫", "wallet_wif: 'K⟪b58:51⟫'"],
                                  negatives: ["BTC_PRIVATE_KEY=5xxxxxxxxxxxxxxxxxxxx", "image_digest=5⟪b58:50⟫"])
            rule.checksum = .base58Check
            return rule
        }(),
        .named("ethereum-private-key", "Ethereum", "Ethereum (EVM) account private key",
               name: "(?:eth|ethereum|evm|wallet|deployer|signer|mnemonic)[A-Za-z0-9_.-]{0,20}(?:private[_-]?key|priv[_-]?key|pk)",
               value: "(?:0x)?[a-f0-9]{64}", entropy: 3.5,
               positives: ["DEPLOYER_PRIVATE_KEY=0x⟪hex:64⟫", "wallet_private_key: \"⟪hex:64⟫\""],
               negatives: ["DEPLOYER_PRIVATE_KEY=0x0000000000000000000000000000000000000000", "WALLET_PRIVATE_KEY=${WALLET_PRIVATE_KEY}"]),
    ]
}
