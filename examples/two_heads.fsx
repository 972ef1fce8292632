// A two-head model end to end on Fashion-MNIST: one trunk, a head for the 10 classes and a head for the 3 kinds
// of item (clothing, footwear, bag). Shows `fanOut`, targets as `Value.Heads` with the heads' names,
// `Loss.perHead` weights, `Metric.onHead`, a custom metric over both heads with `Metric.ofValues`, and
// evaluate's results by name.
//   dotnet fsi build.fsx run examples/two_heads.fsx            (3 epochs on all 60,000 images)
//   dotnet fsi build.fsx run examples/two_heads.fsx --quick    (1 epoch on 3,000 images)
#load "../Dsl.fsx"
open Dsl
open Dsl.Engine
open Dsl.Data

let quick = fsi.CommandLineArgs |> Array.contains "--quick"

let load train =
    let struct (images, labels) = FashionMnist.Load(train)
    let n = if quick then 3000L else images.Size 0
    images.Narrow(0L, 0L, n).To(DType.Float32).Div_(255.0).Unsqueeze(1L), labels.Narrow(0L, 0L, n)

// Kind of item: 0 clothing (T-shirt, trouser, pullover, dress, coat, shirt), 1 footwear (sandal, sneaker,
// ankle boot), 2 bag.
let kindOf (labels: Tensor) =
    let table = Torch.From([| 0L; 0L; 0L; 0L; 0L; 1L; 0L; 1L; 2L; 1L |], 10L)
    table.IndexSelect(0L, labels)

// Targets are named like the model's heads.
let targets (labels: Tensor) = Value.Heads [ "item", Value.T labels; "kind", Value.T(kindOf labels) ]

let xTrain, yTrain = load true
let xTest, yTest = load false

let net = serial [ conv2d 16 3; relu; maxPool 2; conv2d 32 3; relu; maxPool 2; flatten; dense 64; relu ] >-> fanOut [ "item", dense 10; "kind", dense 3 ]
let model = Model.build [ 1L; 28L; 28L ] net
Summary.print model

// A metric over both heads: the share of samples whose item AND kind are both right.
let bothRight =
    Metric.ofValues "both_right" (fun pred target ->
        let right head = (Value.tensor (Value.head head pred)).Argmax(-1L).Eq(Value.tensor (Value.head head target))
        (right "item").LogicalAnd(right "kind").To(DType.Float32))

let options = {
    FitOptions.Default with
        Loss = Loss.perHead [ "item", Loss.crossEntropy, 1.0; "kind", Loss.crossEntropy, 0.5 ]
        Metrics = [ Metric.onHead "item" Metric.accuracy; Metric.onHead "kind" Metric.accuracy; bothRight ]
        Epochs = (if quick then 1 else 3)
        BatchSize = 64
        ValidationSplit = Some 0.1
        Callbacks = [ Report.callback { ReportOptions.In(System.IO.Path.Combine(__SOURCE_DIRECTORY__, "output", "two_heads")) with Print = false } ]
}
let trained = Training.fit options model xTrain (targets yTrain)
let results = Training.evaluate options trained.Model xTest (targets yTest)
printfn
    "Test: item accuracy %.2f%%, kind accuracy %.2f%%, both right %.2f%%"
    (100.0 * results.["item_accuracy"])
    (100.0 * results.["kind_accuracy"])
    (100.0 * results.["both_right"])

// Without Metrics, a multi-head model gets the accuracy of each classification head.
let defaults = Training.evaluate { options with Metrics = FitOptions.Default.Metrics } trained.Model xTest (targets yTest)
printfn "Default metrics for two heads: %s" (String.concat ", " defaults.Names)
printfn "Report: %s" (System.IO.Path.Combine(__SOURCE_DIRECTORY__, "output", "two_heads", "report.html"))
