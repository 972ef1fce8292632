namespace Dsl

open Dsl.Engine
open Dsl.Data

/// The engine's data sets for F# scripts: F# tuples, float images in [0, 1] with a channel dimension,
/// int64 labels.
module Datasets =
    /// Fashion-MNIST (Debian's dataset-fashion-mnist, or `directory`): images float32 [N, 1, 28, 28] in [0, 1], labels int64 [N].
    let fashionMnistFrom (directory: string) (train: bool) : Tensor * Tensor =
        let struct (images, labels) = FashionMnist.Load(train, directory)
        use _ = images
        images.To(DType.Float32).Div_(255.0).Unsqueeze(1L), labels

    /// Fashion-MNIST from Debian's location.
    let fashionMnist (train: bool) : Tensor * Tensor = fashionMnistFrom FashionMnist.DefaultDirectory train

    /// The ten Fashion-MNIST class names.
    let fashionMnistClasses: string list = List.ofSeq FashionMnist.ClassNames

    /// MNIST from the folder holding its four official IDX files (`--data DIR`; `Download.Mnist` fetches them): images
    /// float32 [N, 1, 28, 28] in [0, 1], labels int64 [N].
    let mnist (directory: string) (train: bool) : Tensor * Tensor =
        let struct (images, labels) = Mnist.Load(train, directory)
        use _ = images
        images.To(DType.Float32).Div_(255.0).Unsqueeze(1L), labels

    /// The ten MNIST class names, the digits "0" to "9".
    let mnistClasses: string list = List.ofSeq Mnist.ClassNames

    /// CIFAR-10 from its .tar.gz or folder: images float32 [N, 3, 32, 32] in [0, 1], labels, class names.
    let cifar10 (path: string) (train: bool) : Tensor * Tensor * string list =
        let d = Cifar10.Load(path, train)
        use _ = d.Images
        d.Images.To(DType.Float32).Div_(255.0), d.Labels, List.ofSeq d.ClassNames

    /// MAGIC from the path the user gives: features float32 [N, 10], labels int64 (g = 0, h = 1).
    let magic (path: string) : Tensor * Tensor =
        let t = Magic.Load path
        t.Features, t.Labels

    /// Seeded stratified splits of the sample indices by label, in the given fractions (e.g. [0.7; 0.1; 0.2]).
    let stratified (labels: Tensor) (fractions: float list) (seed: int64) : Tensor list = Splits.Stratified(labels, Array.ofList fractions, seed) |> List.ofArray

    /// The rows of `x` at `indices`.
    let take (indices: Tensor) (x: Tensor) : Tensor = x.IndexSelect(0L, indices)
