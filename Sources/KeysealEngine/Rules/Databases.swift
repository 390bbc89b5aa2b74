extension BuiltInRules {
    /// `scheme://user:password@host`: the password is the secret.
    static func uri(_ id: String, _ provider: String, _ scheme: String, _ description: String, _ example: String) -> Rule {
        Rule(id: id, provider: provider, description: description,
             regex: "\\b(?:\(scheme))://[^:/\\s@\"'`]{1,64}:([^@/\\s\"'`]{3,128})@[A-Za-z0-9._\\[\\]-]+",
             caseless: true, minEntropy: 2.0, generic: true,
             positives: ["DATABASE_URL=\(example)://app:⟪an:20⟫@db.internal:5432/app",
                         "url: \"\(example)://admin:P⟪an:12⟫!x@10.0.0.5/db\""],
             negatives: ["\(example)://user:password@localhost/db", "\(example)://app:${DB_PASSWORD}@db/app",
                         "\(example)://localhost/db"])
    }

    static let databases: [Rule] = [
        uri("postgres-uri", "PostgreSQL", "postgres(?:ql)?", "PostgreSQL connection URI with a password", "postgresql"),
        uri("mysql-uri", "MySQL", "mysql(?:x)?|mariadb", "MySQL or MariaDB connection URI with a password", "mysql"),
        uri("mongodb-uri", "MongoDB", "mongodb(?:\\+srv)?", "MongoDB connection URI with a password", "mongodb+srv"),
        uri("redis-uri", "Redis", "rediss?", "Redis connection URI with a password", "rediss"),
        uri("amqp-uri", "RabbitMQ", "amqps?", "AMQP (RabbitMQ) connection URI with a password", "amqps"),
        uri("sqlserver-uri", "SQL Server", "sqlserver|mssql", "SQL Server connection URI with a password", "sqlserver"),
        uri("oracle-uri", "Oracle", "oracle(?:\\+[a-z]+)?", "Oracle connection URI with a password", "oracle"),
        uri("cassandra-uri", "Cassandra", "cassandra", "Cassandra connection URI with a password", "cassandra"),
        uri("snowflake-uri", "Snowflake", "snowflake", "Snowflake connection URI with a password", "snowflake"),
        uri("basic-auth-url", "URL credentials", "https?|ftps?|sftp|ssh|git|smtps?|ldaps?|svn|ws|wss",
            "User name and password embedded in a URL", "https"),
        Rule(id: "ado-connection-string-password", provider: "SQL Server",
             description: "Password in an ADO.NET / ODBC connection string",
             regex: "(?:Server|Data Source|Host)=[^;\"'\\n]{1,128};[^\"'\\n]{0,200}?(?:Password|Pwd)=([^;\"'\\n]{4,128})",
             caseless: true, minEntropy: 2.5, generic: true,
             positives: ["\"Server=db;Database=app;User Id=sa;Password=⟪an:16⟫;\"", "Data Source=.;Initial Catalog=x;Pwd=Q⟪an:10⟫!"],
             negatives: ["Server=db;Database=app;Password={password};", "Server=db;Integrated Security=true;"]),
    ]
}
