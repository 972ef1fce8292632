// Seed 003 (TP CNN report), its own Fashion-MNIST CNN: three 3×3 convolutions (32, 64, 64, ReLU) with two 2×2 max
// pools, flatten, dense 64 (ReLU), dense 10: 93,322 parameters. The seed trained it 10 epochs, batch 32, Adam, on
// the images /255, validating on the test set, and reached 91.03% test accuracy; then it printed twelve test
// images' predictions with their classes ranked.
//   dotnet fsi build.fsx run examples/seeds/003-fashion-cnn.fsx [--epochs N]   (the real data, installed here)
//   dotnet fsi build.fsx run examples/seeds/003-fashion-cnn.fsx --quick        (1 epoch on a subset)
//   dotnet fsi build.fsx run examples/seeds/003-fashion-cnn.fsx --counts       (the summary and the count, checked)
#load "Seeds.fsx"

open Dsl
open Dsl.Engine
open Dsl.Data
open Seeds

// Keras's initialisation, as the seed's model had it: Glorot-uniform kernels, zero biases.
let conv n = conv2dWith { ConvOptions.Default with WeightInit = Initializer.glorotUniform; BiasInit = Initializer.zeros } n (3, 3)
let fc n = denseWith { DenseOptions.Default with WeightInit = Initializer.glorotUniform; BiasInit = Initializer.zeros } n

/// The seed's CNN (its Keras summary: conv2d 320, conv2d_1 18,496, conv2d_2 36,928, dense 36,928, dense_1 650).
let cnn = serial [ conv 32; relu; maxPool 2; conv 64; relu; maxPool 2; conv 64; relu; flatten; fc 64; relu; fc 10 ]

let model = Model.build [ 1L; 28L; 28L ] cnn

if args |> Array.contains "--counts" then
    printf "%s" (Summary.renderWith { SummaryOptions.Default with ChannelsLast = true } model)
    let n = Model.countParams model
    printfn "seed 003 CNN: %s parameters (the seed's summary: 93,322)" (n.ToString("N0"))
    exit (if n = 93322L then 0 else 1)

let load train =
    let struct (images, labels) = FashionMnist.Load(train)
    let n = if quick then (if train then 3000L else 1000L) else images.Size 0
    images.Narrow(0L, 0L, n).To(DType.Float32).Div_(255.0).Unsqueeze(1L), labels.Narrow(0L, 0L, n)

let xTrain, yTrain = load true
let xTest, yTest = load false
let names = List.ofSeq FashionMnist.ClassNames

// The seed's protocol: Adam 1e-3 for 10 epochs, batch 32, validated on the test set each epoch.
let seedOptions = {
    FitOptions.Default with
        Optimizer = Optimizers.adam 1e-3
        Epochs = (if quick then 1 else epochs 10)
        BatchSize = 32
        Seed = 3L
        ValidationData = Some(DataSource.Tensors(xTest, Value.T yTest))
        Verbosity = (if quick then Silent else Auto)
}

// Ours: the same model, batch and epochs, with two things a Keras user has at hand: the learning rate annealed to zero
// along a cosine over the 10 epochs (CosineDecay), and each training batch's images flipped left-right at random
// (RandomFlip("horizontal"): a mirrored garment is the same garment).
let ourOptions = { seedOptions with Callbacks = [ Callback.learningRateScheduler (Schedule.cosine seedOptions.Epochs 0 0.0) ]; Augment = Some(RandomHorizontalFlip(0.5, 3L)) }

let train (o: FitOptions) =
    timed (fun () ->
        let t = Training.fit o (Model.buildSeeded o.Seed [ 1L; 28L; 28L ] cnn) xTrain (Value.T yTrain)
        t, (Training.evaluate o t.Model xTest (Value.T yTest)).["accuracy"])

// --quick trains only ours; the full run both, so that the difference is measured on the same data and seed.
let plain = if quick then None else Some(train seedOptions)
let (trained, accuracy), seconds = train ourOptions

printTable "Seed 003, its Fashion-MNIST CNN (93,322 parameters, 10 epochs, batch 32): test accuracy" [
    match plain with
    | Some((_, a), secs) -> { Experiment = sprintf "as the seed: Adam 1e-3, %d epoch(s)" seedOptions.Epochs; Seed = "0.9103"; Ours = sprintf "%.4f" a; Seconds = secs }
    | None -> ()
    { Experiment = sprintf "cosine decay + random flips, %d epoch(s)" ourOptions.Epochs; Seed = "0.9103"; Ours = sprintf "%.4f" accuracy; Seconds = seconds }
]

// Twelve test images, as the seed's sample: each with its three most probable classes.
let picks = [ for i in 0..11 -> int64 (i * 797 % int (xTest.Size 0)) ]
let sample = xTest.IndexSelect(0L, Torch.From(Array.ofList picks, [| 12L |]))
let ranked = Training.predictTopK 3 names trained.Model sample
let truth = yTest.ToArray<int64>()
printfn ""
for i, r in List.zip picks ranked do
    let lines = (Training.formatTopK r).Split('\n')
    let head = sprintf "Results provided by custom model (test image %d, a %s): " i names.[int truth.[int i]]
    printfn "%s%s" head lines.[0]
    for l in lines.[1..] do
        printfn "%s%s" (String.replicate head.Length " ") l
