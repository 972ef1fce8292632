// What seed 004's scripts share (#load "Seed004.fsx" after Seeds.fsx): the data sets (Fashion-MNIST, installed; MNIST
// from --data DIR), the seed's base models (Keras's examples: mnist_mlp.py and mnist_cnn.py, glorot-uniform kernels
// with zero biases, ReLU, dropout, RMSprop at Keras's 1e-3, batch 128, validation split 0.15) with every knob the
// studies turn, and the training of one configuration.
#load "Seeds.fsx"

open System
open Dsl
open Dsl.Engine
open Dsl.Data
open Seeds

/// A data set of the seed: its name in tables, training and test images [N, 1, 28, 28] in [0, 1] and labels.
type SeedSet = { Name: string; Digits: bool; Train: Tensor * Tensor; Test: Tensor * Tensor }

/// The first n rows (all when n is None or larger).
let first (n: int option) (x: Tensor) =
    match n with
    | Some k when int64 k < x.Size 0 -> x.Narrow(0L, 0L, int64 k)
    | _ -> x

/// `--sets fmnist,mnist` (default: Fashion-MNIST, and MNIST too when --data is given). Asking for MNIST without --data
/// says where to get it and exits with code 3.
let setNames =
    match option "--sets" with
    | Some s -> s.Split(',') |> List.ofArray
    | None -> if data.IsSome then [ "fmnist"; "mnist" ] else [ "fmnist" ]

/// Loads the named set, its first `nTrain` training and `nTest` test images.
let load (nTrain: int option) (nTest: int option) (name: string) : SeedSet =
    let cut (x, y) (n: int option) = first n x, first n y
    match name with
    | "fmnist" -> { Name = "Fashion-MNIST"; Digits = false; Train = cut (Datasets.fashionMnist true) nTrain; Test = cut (Datasets.fashionMnist false) nTest }
    | "mnist" ->
        let dir =
            requireDataOr
                "Or leave MNIST out with --sets fmnist: Fashion-MNIST is installed here (its --quick runs use it only)."
                "MNIST's four IDX files (the folder holding train-images-idx3-ubyte.gz and the others)"
                DataSources.Mnist.[0]
        { Name = "MNIST"; Digits = true; Train = cut (Datasets.mnist dir true) nTrain; Test = cut (Datasets.mnist dir false) nTest }
    | other ->
        eprintfn "--sets: unknown set '%s'; give fmnist, mnist or both (fmnist,mnist)" other
        exit 2

/// The knobs the studies turn on the base models.
type Knobs = {
    Init: Initializer
    Activation: Layer
    /// The base models' dropout layers (0.2, 0.2 in the MLP; 0.25, 0.5 in the CNN), or none.
    Dropout: bool
    /// Batch normalisation (Keras's: momentum 0.99, ε 1e-3) after each hidden layer's activation, as in the seed's
    /// selected models (its Table 3), or none (the base models).
    BatchNorm: bool
}

/// The seed's base: Keras's glorot-uniform, ReLU, dropout.
let baseKnobs = { Init = Initializer.glorotUniform; Activation = relu; Dropout = true; BatchNorm = false }

let private denseK (k: Knobs) n = denseWith { Presets.keras.Dense with WeightInit = k.Init } n
let private convK (k: Knobs) n = conv2dWith { Presets.keras.Conv with WeightInit = k.Init } n (3, 3)
let private drop (k: Knobs) rate = if k.Dropout then [ dropout rate ] else []
let private act (k: Knobs) = if k.BatchNorm then [ k.Activation; Presets.batchNorm Presets.keras ] else [ k.Activation ]

/// Keras's mnist_mlp.py: Dense 512, act, Dropout 0.2, Dense 512, act, Dropout 0.2, Dense 10 (669,706 parameters);
/// with `BatchNorm`, a batch norm follows each act.
let mlp (k: Knobs) = serial ([ flatten; denseK k 512 ] @ act k @ drop k 0.2 @ [ denseK k 512 ] @ act k @ drop k 0.2 @ [ denseK k 10 ])

/// Keras's mnist_cnn.py: Conv 32 3×3, act, Conv 64 3×3, act, MaxPool 2, Dropout 0.25, Flatten, Dense 128, act,
/// Dropout 0.5, Dense 10 (1,199,882 parameters); with `BatchNorm`, a batch norm follows each act.
let cnn (k: Knobs) =
    serial ([ convK k 32 ] @ act k @ [ convK k 64 ] @ act k @ [ maxPool 2 ] @ drop k 0.25 @ [ flatten; denseK k 128 ] @ act k @ drop k 0.5 @ [ denseK k 10 ])

/// The base models by name (`--models MLP` or `--models CNN` keeps one; both by default).
let models =
    let all = [ "MLP", mlp; "CNN", cnn ]
    match option "--models" with
    | Some m ->
        let wanted = m.Split(',') |> Set.ofArray
        match all |> List.filter (fun (name, _) -> wanted.Contains name) with
        | [] ->
            eprintfn "--models %s: give MLP, CNN or MLP,CNN" m
            exit 2
        | some -> some
    | None -> all

/// The seed's fit: RMSprop at Keras's 1e-3 (ρ 0.9, ε 1e-7), batch 128, validation split 0.15 (the last 15%, as Keras).
let baseFit (epochs: int) (seed: int64) = {
    FitOptions.Default with
        Optimizer = Presets.keras.Rmsprop 1e-3
        Epochs = epochs
        BatchSize = 128
        Seed = seed
        ValidationSplit = Some 0.15
        Verbosity = Silent
}

/// Trains `net` on the set's training data; returns the trained result and the wall time.
let train (o: FitOptions) (seed: int64) (net: Layer) (set: SeedSet) =
    let model = Model.buildSeeded seed [ 1L; 28L; 28L ] net
    let x, y = set.Train
    let t, seconds = timed (fun () -> Training.fit { o with Seed = seed } model x (Value.T y))
    Model.dispose model
    t, seconds

/// The last epoch's value of a logged quantity.
let final (name: string) (t: Trained) = (List.last t.History).TryGet(name) |> Option.defaultValue nan

/// Test accuracy.
let testAccuracy (o: FitOptions) (t: Trained) (set: SeedSet) =
    let x, y = set.Test
    (Training.evaluate o t.Model x (Value.T y)).["accuracy"]

/// "0.9123".
let f4 (v: float) = sprintf "%.4f" v
