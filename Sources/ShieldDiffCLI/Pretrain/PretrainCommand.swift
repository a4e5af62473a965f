import ArgumentParser

/// `shielddiff pretrain <model>`: trains one of the world's base models from scratch.
struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pretrain the world's base models on the data distribution.",
        subcommands: [PretrainCLIP.self, PretrainDetector.self, PretrainDiffusion.self]
    )
}
