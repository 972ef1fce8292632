// Data-parallel training of a Fashion-MNIST CNN: every rank trains on its shard of each epoch (a global batch of
// 128 split over the ranks: 64 each on 2), gradients are averaged across ranks after every step (c10d, Gloo), and
// rank 0 prints and evaluates. One rank and N ranks take the same steps on the same samples, so they reach the
// same accuracy (up to float32 rounding: the mean of N shard means is not summed in one order).
//   dotnet fsi build.fsx build launch --nproc 2 examples/distributed.fsx           (2 processes, 3 epochs)
//   dotnet fsi build.fsx run examples/distributed.fsx                              (the same script alone: 1 rank)
//   ... [--batch B]                                                                (the global batch, default 128)
//   dotnet fsi build.fsx launch --nproc 2 examples/distributed.fsx --quick         (1 epoch on 4,000 images)
// On several machines: `launch --nproc 2 --nnodes 2 --node-rank R --master HOST:PORT examples/distributed.fsx` on each.
#load "../Dsl.fsx"
open System
open System.Diagnostics
open Dsl
open Dsl.Engine
open Dsl.Data

let quick = fsi.CommandLineArgs |> Array.contains "--quick"
let group = Distributed.initWith (TimeSpan.FromMinutes 5.0)
// One intra-op thread per rank when the ranks share this machine's cores.
if group.WorldSize > 1 then Torch.NumThreads <- max 1 (Environment.ProcessorCount / group.WorldSize)

let load train =
    let struct (images, labels) = FashionMnist.Load(train)
    let x = images.To(DType.Float32).Div_(255.0).Sub_(0.2860).Div_(0.3530).Unsqueeze(1L)
    if quick then x.Narrow(0L, 0L, 4000L), labels.Narrow(0L, 0L, 4000L) else x, labels
let xTrain, yTrain = load true
let xTest, yTest = load false

let cnn = serial [ conv2d 32 3; relu; maxPool 2; conv2d 64 3; relu; maxPool 2; flatten; dense 64; relu; dense 10 ]
let model = Model.buildSeeded 1L [ 1L; 28L; 28L ] cnn
let batch =
    match Array.tryFindIndex ((=) "--batch") fsi.CommandLineArgs with
    | Some i when i + 1 < fsi.CommandLineArgs.Length -> int fsi.CommandLineArgs.[i + 1]
    | _ -> 128
if batch % group.WorldSize <> 0 then
    eprintfn "--batch %d: the global batch must split evenly over the %d ranks; give a multiple of %d" batch group.WorldSize group.WorldSize
    exit 2
let options = {
    FitOptions.Default with
        Optimizer = Optimizers.adam 1e-3
        Epochs = (if quick then 1 else 3)
        BatchSize = batch / group.WorldSize // per rank
        Seed = 1L
        Distributed = (if group.WorldSize > 1 then Some group else None)
}
let watch = Stopwatch.StartNew()
let trained = Training.fit options model xTrain (Value.T yTrain)
// Every rank ends with the same parameters; rank 0 evaluates and prints.
if group.Rank = 0 then
    let test = Training.evaluate options trained.Model xTest (Value.T yTest)
    printfn "distributed: %d rank(s), %.1f s of training, test accuracy %.4f" group.WorldSize watch.Elapsed.TotalSeconds test.["accuracy"]
group.Dispose()
