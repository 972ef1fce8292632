namespace Dsl

/// One stage of EfficientNet (torchvision's MBConvConfig before width and depth scaling).
type EfficientNetStage = { Expand: int; Kernel: int; Stride: int; Input: int; Out: int; Layers: int }

/// EfficientNet (B0's family) as torchvision 0.14 builds it (`torchvision.models.efficientnet`), named as its
/// modules: features.N.M.block…, features.N.M.stochastic_depth, avgpool, flatten, classifier.
module EfficientNet =
    /// torchvision's B0 stages.
    let b0Stages = [
        for t, k, s, i, o, n in [ 1, 3, 1, 32, 16, 1; 6, 3, 2, 16, 24, 2; 6, 5, 2, 24, 40, 2; 6, 3, 2, 40, 80, 3; 6, 5, 1, 80, 112, 3; 6, 5, 2, 112, 192, 4; 6, 3, 1, 192, 320, 1 ] ->
            { Expand = t; Kernel = k; Stride = s; Input = i; Out = o; Layers = n }
    ]

    /// MBConv (channels already scaled): expand (SiLU), depthwise (SiLU), squeeze-excitation (SiLU, sigmoid,
    /// max(1, input/4) channels), project; with stochastic depth `sd` on the branch when it is a residual.
    let mbconv (bn: BatchNormOptions) (c: EfficientNetStage) (sd: float) : Layer =
        let expanded = makeDivisible (float (c.Input * c.Expand)) 8 None
        let layers = [
            if expanded <> c.Input then convNormAct bn (Some silu) expanded 1 1 1 1
            convNormAct bn (Some silu) expanded c.Kernel c.Stride expanded 1
            squeezeExcitation (max 1 (c.Input / 4)) Activation.silu Activation.sigmoid
            convNormAct bn None c.Out 1 1 1 1
        ]
        let block = named "block" (serial (layers |> List.mapi (fun i l -> named (string i) l)))
        if c.Stride = 1 && c.Input = c.Out then residual (serial [ block; named "stochastic_depth" (stochasticDepth sd) ]) else serial [ block ]

    /// EfficientNet at a width and depth multiplier with the given dropout and stochastic-depth probability
    /// (B0: 1.0, 1.0, 0.2, 0.2) and batch norm (B0–B7: PyTorch's defaults).
    let build (widthMult: float) (depthMult: float) (stages: EfficientNetStage list) (dropoutRate: float) (sdProb: float) (bn: BatchNormOptions) (o: ZooOptions) : Layer =
        let adj (ch: int) = makeDivisible (float ch * widthMult) 8 None
        let scaled = stages |> List.map (fun s -> { s with Input = adj s.Input; Out = adj s.Out; Layers = int (ceil (float s.Layers * depthMult)) })
        let total = scaled |> List.sumBy _.Layers
        let stageLayers, _ =
            scaled
            |> List.mapFold
                (fun id s ->
                    let blocks = [
                        for j in 0 .. s.Layers - 1 ->
                            let c = if j = 0 then s else { s with Input = s.Out; Stride = 1 }
                            named (string j) (mbconv bn c (sdProb * float (id + j) / float total))
                    ]
                    serial blocks, id + s.Layers)
                0
        let lastIn = (List.last scaled).Out
        let features = [ convNormAct bn (Some silu) (List.head scaled).Input 3 2 1 1; yield! stageLayers; convNormAct bn (Some silu) (4 * lastIn) 1 1 1 1 ]
        let init = 1.0 / sqrt (float o.Classes)
        serial [
            named "features" (serial (features |> List.mapi (fun i l -> named (string i) l)))
            if o.IncludeTop then
                named "avgpool" globalAvgPool
                named
                    "classifier"
                    (serial [
                        named "0" (dropout dropoutRate)
                        named "1" (denseWith { DenseOptions.Default with WeightInit = Initializer.uniform -init init; BiasInit = Initializer.zeros } o.Classes)
                    ])
        ]
