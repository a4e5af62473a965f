import ArgumentParser
import Numerics

@main
struct ShieldDiff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shielddiff",
        abstract: "Distributed RL fine-tuning that removes an unsafe concept from a text-to-image diffusion model.",
        subcommands: [TrainCommand.self, LearnerCommand.self, ActorCommand.self, RewardWorkerCommand.self, RelayCommand.self,
                      ConfigCommand.self, Keys.self, Pretrain.self, Sample.self, Eval.self, Compare.self, Attack.self, SafetyReport.self, Baseline.self, Bench.self,
                      Kernels.self, Export.self]
    )

    /// Every command runs on the best OpenBLAS kernel the CPU supports: the process
    /// re-executes itself once, before parsing, when OpenBLAS chose a weaker one.
    static func main() {
        BLASKernel.selectBestOrReexecute()
        main(nil)
    }
}

/// `shielddiff kernels`: the OpenBLAS kernel this process runs and the ones the CPU supports.
struct Kernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the OpenBLAS kernel in use and the kernels this CPU supports.")

    @Flag(help: "Print only the supported OPENBLAS_CORETYPE values, one per line, weakest first.")
    var supported = false

    func run() {
        if supported {
            BLASKernel.supported.forEach { print($0.coreType) }
        } else {
            print(BLASKernel.description)
        }
    }
}
