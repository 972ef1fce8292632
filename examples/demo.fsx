// The main job: a CNN trained on the real Fashion-MNIST (Debian's dataset-fashion-mnist) for a few
// epochs, then its test accuracy.   dotnet fsi build.fsx demo [--epochs N]
#load "../Dsl.fsx"
open Dsl
open Dsl.Engine
open Dsl.Data

let args = fsi.CommandLineArgs
let epochs =
    match args |> Array.tryFindIndex ((=) "--epochs") with
    | Some i -> int args.[i + 1]
    | None -> 3

let load train =
    let struct (images, labels) = FashionMnist.Load(train)
    images.To(DType.Float32).Div_(255.0).Sub_(0.2860).Div_(0.3530).Unsqueeze(1L), labels
let xTrain, yTrain = load true
let xTest, yTest = load false

let conv f = conv2dWith { ConvOptions.Default with Padding = Same; Activation = Some Activation.relu } f (3, 3)
let cnn = serial [ conv 32; maxPool 2; conv 64; maxPool 2; flatten; dense 128; relu; dense 10 ]
let model = Model.buildSeeded 42L [ 1L; 28L; 28L ] cnn
printfn "Dsl demo · libtorch %s · %d threads · Fashion-MNIST: %d training, %d test images" Torch.LoadedVersion Torch.NumThreads (xTrain.Size 0) (xTest.Size 0)
Summary.print model

// The run's report (curves, confusion matrix and predictions on the test set, settings, machine), rewritten after
// every epoch: open examples/output/demo/report.html while it trains.
let report = {
    ReportOptions.In(System.IO.Path.Combine(__SOURCE_DIRECTORY__, "output", "demo")) with
        Title = "Dsl demo: a CNN on Fashion-MNIST"
        ClassNames = List.ofSeq FashionMnist.ClassNames
        Examples = Some(xTest, yTest)
        Print = false
}
let options = { FitOptions.Default with Optimizer = Optimizers.adam 1e-3; Epochs = epochs; BatchSize = 128; Seed = 42L; Callbacks = [ Report.callback report ] }
let trained = Training.fit options model xTrain (Value.T yTrain)
let results = Training.evaluate options trained.Model xTest (Value.T yTest)
printfn "Test loss: %.4f  Test accuracy: %.2f%%" results.["loss"] (100.0 * results.["accuracy"])
printfn "Report: %s" (System.IO.Path.Combine(report.Dir, "report.html"))
