import ArgumentParser
import Foundation
import Runtime

/// `shielddiff keys`: CURVE keys and the learner's allowlist (README "Security").
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make CURVE key pairs and the learner's allowlist.",
        subcommands: [Generate.self, Allow.self])

    /// `shielddiff keys generate`: one key pair.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a CURVE key pair: DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub.",
            discussion: "NAME becomes the process's identity: start it with --instance NAME. Give NAME.pub to the learner's "
                + "operator (shielddiff keys allow); the learner's own NAME.pub goes to every peer (security.learner_public_key).")

        @Option(help: "Folder to write the two files to (created if missing).") var out: String
        @Option(help: "Key name = the process's instance id (letters, digits, '.', '_', '-').") var name: String
        @Option(help: "Role the key is for: \(KeyRole.allCases.map(\.rawValue).joined(separator: ", ")).") var role: String

        func validate() throws {
            guard KeyRole(rawValue: role) != nil else {
                throw ValidationError("--role \(role): expected one of \(KeyRole.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() throws {
            let identity = try CurveIdentity.generate(role: KeyRole(rawValue: role)!, name: name)
            let paths = try identity.write(to: out)
            say("\(paths.secret) (secret, mode 0600)")
            say("\(paths.public): \(identity.publicEntry.line)")
        }
    }

    /// `shielddiff keys allow`: the allowlist from public key files.
    struct Allow: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the learner's allowlist (ROLE NAME KEY per line) from NAME.pub files.",
            discussion: "Point security.allowlist at FILE; after editing it, send SIGHUP to the learner to apply it.")

        @Option(help: "Allowlist file to write.") var out: String
        @Argument(help: "Public key files (NAME.pub).") var publicKeys: [String]

        func validate() throws {
            if publicKeys.isEmpty { throw ValidationError("name at least one NAME.pub file") }
        }

        func run() throws {
            let allowlist = try Allowlist(try publicKeys.map { try PublicKeyEntry.load(path: $0) }, places: publicKeys)
            try allowlist.rendered.write(toFile: out, atomically: true, encoding: .utf8)
            say("\(out): \(allowlist.entries.count) keys (" + allowlist.entries.map { "\($0.role.rawValue) \($0.name)" }.joined(separator: ", ") + ")")
        }
    }
}
