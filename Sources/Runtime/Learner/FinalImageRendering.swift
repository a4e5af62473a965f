import Wire
import World

/// A learner model whose trajectories end in images (the last latent row is the sample):
/// the learner shows a grid of them in TensorBoard every `tensorboard_image_every` updates.
/// Called on the learner's I/O thread while an update may run, so it must be a pure
/// function of the trajectories, never touching the model's weights.
public protocol FinalImageRendering: AnyObject {
    /// The final image of each trajectory.
    func finalImages(of trajectories: [Trajectory]) -> [Image]
}
