namespace Dsl

/// One stage of MobileNetV2 (torchvision's `inverted_residual_setting` row t, c, n, s).
type MobileNetV2Stage = { Expand: int; Channels: int; Repeats: int; Stride: int }

/// One inverted-residual block of MobileNetV3 (torchvision's InvertedResidualConfig before width scaling).
type MobileNetV3Block = {
    Input: int
    Kernel: int
    Expanded: int
    Out: int
    SqueezeExcite: bool
    /// Hard-swish ("HS") instead of ReLU ("RE").
    HardSwish: bool
    Stride: int
    Dilation: int
}

/// MobileNetV2 and MobileNetV3 as torchvision 0.14 builds them (`torchvision.models.mobilenetv2`,
/// `mobilenetv3`), named as their modules: features.N (…conv / block…), avgpool, flatten, classifier.N.
module MobileNet =
    let private denseV2 n = denseWith { DenseOptions.Default with WeightInit = Initializer.normal 0.0 0.01; BiasInit = Initializer.zeros } n

    /// torchvision's MobileNetV2 stages.
    let v2Stages = [
        for t, c, n, s in [ 1, 16, 1, 1; 6, 24, 2, 2; 6, 32, 3, 2; 6, 64, 4, 2; 6, 96, 3, 1; 6, 160, 3, 2; 6, 320, 1, 1 ] -> { Expand = t; Channels = c; Repeats = n; Stride = s }
    ]

    /// MobileNetV2's inverted residual from `inp` to `oup` channels (ReLU6, batch norm with PyTorch's defaults).
    let invertedResidualV2 (inp: int) (oup: int) (stride: int) (expand: int) : Layer =
        let hidden = int (System.Math.Round(float (inp * expand), System.MidpointRounding.ToEven))
        let bn = BatchNormOptions.Default
        let layers = [
            if expand <> 1 then convNormAct bn (Some relu6) hidden 1 1 1 1
            convNormAct bn (Some relu6) hidden 3 stride hidden 1
            conv2dWith { torchvisionConv with Bias = false } oup (1, 1)
            batchNormWith bn
        ]
        let conv = named "conv" (serial (layers |> List.mapi (fun i l -> named (string i) l)))
        if stride = 1 && inp = oup then residual (serial [ conv ]) else serial [ conv ]

    /// MobileNetV2 with any width multiplier, stages and dropout (torchvision's: 1.0, `v2Stages`, 0.2).
    let v2With (widthMult: float) (stages: MobileNetV2Stage list) (dropoutRate: float) (o: ZooOptions) : Layer =
        let input = makeDivisible (32.0 * widthMult) 8 None
        let last = makeDivisible (1280.0 * max 1.0 widthMult) 8 None
        let blocks, final =
            stages
            |> List.mapFold
                (fun inp st ->
                    let out = makeDivisible (float st.Channels * widthMult) 8 None
                    [ for i in 0 .. st.Repeats - 1 -> invertedResidualV2 (if i = 0 then inp else out) out (if i = 0 then st.Stride else 1) st.Expand ], out)
                input
        let features = [
            convNormAct BatchNormOptions.Default (Some relu6) input 3 2 1 1
            yield! List.concat blocks
            convNormAct BatchNormOptions.Default (Some relu6) last 1 1 1 1
        ]
        serial [
            named "features" (serial (features |> List.mapi (fun i l -> named (string i) l)))
            if o.IncludeTop then
                named "avgpool" globalAvgPool
                named "classifier" (serial [ named "0" (dropout dropoutRate); named "1" (denseV2 o.Classes) ])
        ]

    /// torchvision's MobileNetV3-Small blocks and last channel (before width scaling).
    let v3SmallBlocks: MobileNetV3Block list * int =
        let b i k e o se hs s = { Input = i; Kernel = k; Expanded = e; Out = o; SqueezeExcite = se; HardSwish = hs; Stride = s; Dilation = 1 }
        [
            b 16 3 16 16 true false 2
            b 16 3 72 24 false false 2
            b 24 3 88 24 false false 1
            b 24 5 96 40 true true 2
            b 40 5 240 40 true true 1
            b 40 5 240 40 true true 1
            b 40 5 120 48 true true 1
            b 48 5 144 48 true true 1
            b 48 5 288 96 true true 2
            b 96 5 576 96 true true 1
            b 96 5 576 96 true true 1
        ],
        1024

    /// MobileNetV3's batch norm: eps 0.001, momentum 0.01.
    let v3Norm: BatchNormOptions = { BatchNormOptions.Default with Eps = 0.001; Momentum = 0.01 }

    /// MobileNetV3's inverted residual (channels already scaled): expand, depthwise, squeeze-excitation
    /// (ReLU, hard-sigmoid), project; a residual when the stride is 1 and the channels stay.
    let invertedResidualV3 (c: MobileNetV3Block) : Layer =
        let act = if c.HardSwish then hardswish else relu
        let layers = [
            if c.Expanded <> c.Input then convNormAct v3Norm (Some act) c.Expanded 1 1 1 1
            convNormAct v3Norm (Some act) c.Expanded c.Kernel (if c.Dilation > 1 then 1 else c.Stride) c.Expanded c.Dilation
            if c.SqueezeExcite then squeezeExcitation (makeDivisible (float (c.Expanded / 4)) 8 None) Activation.relu Activation.hardsigmoid
            convNormAct v3Norm None c.Out 1 1 1 1
        ]
        let block = named "block" (serial (layers |> List.mapi (fun i l -> named (string i) l)))
        if c.Stride = 1 && c.Input = c.Out then residual (serial [ block ]) else serial [ block ]

    /// MobileNetV3 from blocks and a last channel at a width multiplier (channels scaled as torchvision's
    /// `adjust_channels`), with the given dropout (torchvision's: 0.2).
    let v3With (widthMult: float) (blocks: MobileNetV3Block list) (lastChannel: int) (dropoutRate: float) (o: ZooOptions) : Layer =
        let adj (ch: int) = makeDivisible (float ch * widthMult) 8 None
        let scaled = blocks |> List.map (fun b -> { b with Input = adj b.Input; Expanded = adj b.Expanded; Out = adj b.Out })
        let lastConv = 6 * (List.last scaled).Out
        let features = [
            convNormAct v3Norm (Some hardswish) (List.head scaled).Input 3 2 1 1
            yield! scaled |> List.map invertedResidualV3
            convNormAct v3Norm (Some hardswish) lastConv 1 1 1 1
        ]
        serial [
            named "features" (serial (features |> List.mapi (fun i l -> named (string i) l)))
            if o.IncludeTop then
                named "avgpool" globalAvgPool
                named "classifier" (serial [ named "0" (denseV2 (adj lastChannel)); named "1" hardswish; named "2" (dropout dropoutRate); named "3" (denseV2 o.Classes) ])
        ]
