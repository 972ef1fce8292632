// Fashion-MNIST: seed 001's MLP and CNN, and a better CNN, trained on the real data (Debian's
// dataset-fashion-mnist); prints a test-accuracy table with wall times. Each run writes a report (curves,
// confusion matrix, prediction grid, history) to examples/output/fashion_mnist/<model>/report.html, and
// examples/output/fashion_mnist/compare.html lays the three side by side.
//   dotnet fsi build.fsx run examples/fashion_mnist.fsx            (full runs)
//   dotnet fsi build.fsx run examples/fashion_mnist.fsx --quick    (2 epochs on a subset: a smoke test)
#load "../Dsl.fsx"
open System.Diagnostics
open Dsl
open Dsl.Engine
open Dsl.Data

let quick = fsi.CommandLineArgs |> Array.contains "--quick"

// Images as float [N, 1, 28, 28] standardised with the training set's mean and std; labels int64.
let load train =
    let struct (images, labels) = FashionMnist.Load(train)
    let x = images.To(DType.Float32).Div_(255.0).Sub_(0.2860).Div_(0.3530).Unsqueeze(1L)
    if quick then x.Narrow(0L, 0L, 2000L), labels.Narrow(0L, 0L, 2000L) else x, labels
let xTrain, yTrain = load true
let xTest, yTest = load false

let act = Some Activation.relu
let conv f = conv2dWith { ConvOptions.Default with Padding = Same; Activation = act } f (3, 3)
let bnConv f = conv2dWith { ConvOptions.Default with Padding = Same; Bias = false } f (3, 3) >-> batchNorm >-> relu

// Seed 001's MLP: 784 → 32 → 64 → 128 → 256 → 10 (71,146 parameters); its test accuracy 87.32%.
let mlp =
    serial [
        yield flatten
        for u in [ 32; 64; 128; 256 ] -> denseWith { DenseOptions.Default with Activation = act } u
        yield dense 10
    ]
// Seed 001's CNN: conv 32, conv 32, pool, conv 64, pool, dense 10; its test accuracy 91.66%.
let cnn = serial [ conv 32; conv 32; maxPool 2; conv 64; maxPool 2; flatten; dense 10 ]
// A better CNN: batch norm, dropout, wider; seed 001's best was 93.60%.
let better =
    serial [
        bnConv 32
        bnConv 32
        maxPool 2
        dropout 0.25
        bnConv 64
        bnConv 64
        maxPool 2
        dropout 0.25
        bnConv 128
        maxPool 2
        dropout 0.25
        flatten
        denseWith { DenseOptions.Default with Bias = false } 256
        batchNorm
        relu
        dropout 0.5
        dense 10
    ]

let out = System.IO.Path.Combine(__SOURCE_DIRECTORY__, "output", "fashion_mnist")
let classes = List.ofSeq FashionMnist.ClassNames

let run (name: string) net epochs lr seedAccuracy =
    let model = Model.buildSeeded 1L [ 1L; 28L; 28L ] net
    let epochs = if quick then 2 else epochs
    let report = { ReportOptions.In(System.IO.Path.Combine(out, name.Replace(' ', '_'))) with Title = name; ClassNames = classes; Examples = Some(xTest, yTest) }
    let options = {
        FitOptions.Default with
            Optimizer = Optimizers.adam lr
            Epochs = epochs
            BatchSize = 128
            Seed = 1L
            ValidationSplit = Some 0.1
            Callbacks = [ Callback.learningRateScheduler (Schedule.cosine epochs 1 1e-5); Report.callback report ]
    }
    printfn "== %s (%d parameters, %d epochs)" name (Model.countParams model) epochs
    let watch = Stopwatch.StartNew()
    let trained = Training.fit options model xTrain (Value.T yTrain)
    let seconds = watch.Elapsed.TotalSeconds
    let acc = (Training.evaluate options trained.Model xTest (Value.T yTest)).["accuracy"]
    name, acc, seedAccuracy, seconds, report.Dir

let results = [ run "seed 001 MLP" mlp 20 1e-3 0.8732; run "seed 001 CNN" cnn 12 1e-3 0.9166; run "better CNN" better 15 2e-3 0.9360 ]
Report.compare (System.IO.Path.Combine(out, "compare.html")) "val_accuracy" [ for (_, _, _, _, dir) in results -> dir ]
printfn "wrote %s (and a report.html per model beside it)" (System.IO.Path.Combine(out, "compare.html"))

printfn ""
printfn "%-14s %10s %10s %10s" "model" "test acc" "seed acc" "time"
for name, acc, seedAcc, seconds, _ in results do
    printfn "%-14s %9.2f%% %9.2f%% %9.0fs" name (100.0 * acc) (100.0 * seedAcc) seconds
