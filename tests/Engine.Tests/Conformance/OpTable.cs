using System.Text.Json;
using NUnit.Framework;
using F = Dsl.Engine.Functional;

namespace Dsl.Engine.Tests.Conformance;

/// <summary>The inputs and arguments of one fixture case, as seen by an op-table entry.</summary>
public sealed class OpCall(FixtureCase fixture, Tensor[] inputs)
{
    public Tensor[] Inputs { get; } = inputs;
    /// <summary>Extra outputs an entry exposes for comparison, keyed by the fixture's extra field name.</summary>
    public Dictionary<string, Tensor> Extras { get; } = new();

    public Tensor this[int i] => Inputs[i];
    /// <summary>Input i when present (optional bias of conv*/linear).</summary>
    public Tensor? Opt(int i) => i < Inputs.Length ? Inputs[i] : null;
    /// <summary>The input whose index the named argument holds (weight_input, pos_weight_input), or null.</summary>
    public Tensor? InputAt(string arg) => Has(arg) ? Inputs[L(arg)] : null;

    public JsonElement Arg(string name) => fixture.Args.GetProperty(name);
    public bool Has(string name) => fixture.Args.TryGetProperty(name, out var e) && e.ValueKind != JsonValueKind.Null;
    public long L(string name) => Arg(name).GetInt64();
    public long L(string name, long dflt) => Has(name) ? L(name) : dflt;
    public double D(string name) => Arg(name).GetDouble();
    public double D(string name, double dflt) => Has(name) ? D(name) : dflt;
    public double? DOpt(string name) => Has(name) ? D(name) : null;
    public bool B(string name, bool dflt = false) => Has(name) ? Arg(name).GetBoolean() : dflt;
    public string S(string name) => Arg(name).GetString()!;
    public long[] Ls(string name) => Arg(name).EnumerateArray().Select(e => e.GetInt64()).ToArray();
    /// <summary>An (H, W) pair from [h, w] or from a single int.</summary>
    public (long, long) P(string name) => Arg(name).ValueKind == JsonValueKind.Array ? (Ls(name)[0], Ls(name)[1]) : (L(name), L(name));
    public TEnum E<TEnum>(string name) where TEnum : struct, Enum => Enum.Parse<TEnum>(S(name).Replace("_", ""), ignoreCase: true);

    // Reductions: {"dims": [...] | null, "keepdim": bool}.
    public long[]? Dims => Has("dims") ? Ls("dims") : null;
    public bool Keep => B("keepdim");
    public Reduction Red => E<Reduction>("reduction");

    /// <summary>Records <paramref name="t"/> as the extra field <paramref name="field"/> and returns it.</summary>
    public Tensor Extra(string field, Tensor t) { Extras[field] = t; return t; }
    /// <summary>Values of a (values, indices) pair; the indices become output_indices.</summary>
    public Tensor WithIndices((Tensor Values, Tensor Indices) r) { Extras["output_indices"] = r.Indices; return r.Values; }

    /// <summary>quantile / nanquantile: q is a number or a list (a 1-D tensor of the input's dtype).</summary>
    public Tensor Quantile(bool nan)
    {
        var mode = E<QuantileInterpolation>("interpolation");
        long? dim = Has("dim") ? L("dim") : null;
        if (Arg("q").ValueKind == JsonValueKind.Array)
        {
            using var q = Torch.From(Arg("q").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray(), Arg("q").GetArrayLength());
            return nan ? this[0].NanQuantile(q, dim, Keep, mode) : this[0].Quantile(q, dim, Keep, mode);
        }
        return nan ? this[0].NanQuantile(D("q"), dim, Keep, mode) : this[0].Quantile(D("q"), dim, Keep, mode);
    }

    /// <summary>where with scalars: [cond, x] and scalar (scalar_first: where(cond, s, x)), or [cond] and scalar, other.</summary>
    public Tensor WhereScalar()
    {
        bool integral = B("integral");
        if (Has("other")) return Torch.Where(this[0], D("scalar"), D("other"));
        if (integral) return B("scalar_first") ? Torch.Where(this[0], L("scalar"), this[1]) : Torch.Where(this[0], this[1], L("scalar"));
        return B("scalar_first") ? Torch.Where(this[0], D("scalar"), this[1]) : Torch.Where(this[0], this[1], D("scalar"));
    }

    /// <summary>The index expression of index / index_put (format: make_fixtures.py, build_index).</summary>
    public TensorIndex[] Index() => Arg("index").EnumerateArray().Select(e => e.ValueKind switch
    {
        JsonValueKind.Number => TensorIndex.Single(e.GetInt64()),
        JsonValueKind.String when e.GetString() == "..." => TensorIndex.Ellipsis,
        JsonValueKind.Null => TensorIndex.NewAxis,
        JsonValueKind.True or JsonValueKind.False => TensorIndex.Bool(e.GetBoolean()),
        JsonValueKind.Object when e.TryGetProperty("slice", out var s) => TensorIndex.Slice(
            s[0].ValueKind == JsonValueKind.Null ? null : s[0].GetInt64(),
            s[1].ValueKind == JsonValueKind.Null ? null : s[1].GetInt64(),
            s[2].ValueKind == JsonValueKind.Null ? 1 : s[2].GetInt64()),
        JsonValueKind.Object => TensorIndex.Tensor(Inputs[e.GetProperty("tensor").GetInt32()]),
        _ => throw new ArgumentException($"index: unknown entry {e}"),
    }).ToArray();

    /// <summary>Binary arithmetic in its three fixture forms: tensor∘tensor, tensor∘scalar, scalar∘tensor.</summary>
    public Tensor Arith(Func<Tensor, Tensor, Tensor> tt, Func<Tensor, double, Tensor> ts, Func<double, Tensor, Tensor> st) =>
        !Has("scalar") ? tt(this[0], this[1]) : B("scalar_first") ? st(D("scalar"), this[0]) : ts(this[0], D("scalar"));
}

/// <summary>Maps each fixture op key to the public engine call that computes it.</summary>
public static class OpTable
{
    public static readonly IReadOnlyDictionary<string, Func<OpCall, Tensor>> Ops = new Dictionary<string, Func<OpCall, Tensor>>
    {
        // ---- activations ----
        ["relu"] = c => F.Relu(c[0]),
        ["leaky_relu"] = c => F.LeakyRelu(c[0], c.D("negative_slope")),
        ["elu"] = c => F.Elu(c[0], c.D("alpha")),
        ["selu"] = c => F.Selu(c[0]),
        ["gelu"] = c => F.Gelu(c[0], tanhApproximation: c.S("approximate") == "tanh"),
        ["silu"] = c => F.Silu(c[0]),
        ["tanh"] = c => F.Tanh(c[0]),
        ["sigmoid"] = c => F.Sigmoid(c[0]),
        ["softplus"] = c => F.Softplus(c[0], c.D("beta"), c.D("threshold")),
        ["softmax"] = c => F.Softmax(c[0], c.L("dim")),
        ["log_softmax"] = c => F.LogSoftmax(c[0], c.L("dim")),
        ["hardtanh"] = c => F.Hardtanh(c[0], c.D("min_val"), c.D("max_val")),
        ["mish"] = c => F.Mish(c[0]),

        // ---- linear algebra ----
        ["matmul"] = c => c[0].Matmul(c[1]),
        ["mm"] = c => c[0].Mm(c[1]),
        ["bmm"] = c => c[0].Bmm(c[1]),
        ["outer"] = c => c[0].Outer(c[1]),
        ["dot"] = c => c[0].Dot(c[1]),
        ["linear"] = c => F.Linear(c[0], c[1], c.Opt(2)),

        // ---- losses ----
        ["cross_entropy"] = c => F.CrossEntropy(c[0], c[1], c.InputAt("weight_input"), c.Red, c.L("ignore_index", -100), c.D("label_smoothing", 0)),
        ["nll_loss"] = c => F.NllLoss(c[0], c[1], c.InputAt("weight_input"), c.Red, c.L("ignore_index", -100)),
        ["binary_cross_entropy"] = c => F.BinaryCrossEntropy(c[0], c[1], c.InputAt("weight_input"), c.Red),
        ["binary_cross_entropy_with_logits"] = c => F.BinaryCrossEntropyWithLogits(c[0], c[1], c.InputAt("weight_input"), c.InputAt("pos_weight_input"), c.Red),
        ["mse_loss"] = c => F.MseLoss(c[0], c[1], c.Red),
        ["l1_loss"] = c => F.L1Loss(c[0], c[1], c.Red),
        ["smooth_l1_loss"] = c => F.SmoothL1Loss(c[0], c[1], c.Red, c.D("beta", 1.0)),
        ["huber_loss"] = c => F.HuberLoss(c[0], c[1], c.Red, c.D("delta", 1.0)),

        // ---- elementwise math (operators for the arithmetic) ----
        ["add"] = c => c.Arith((a, b) => a + b, (a, s) => a + s, (s, a) => s + a),
        ["sub"] = c => c.Arith((a, b) => a - b, (a, s) => a - s, (s, a) => s - a),
        ["mul"] = c => c.Arith((a, b) => a * b, (a, s) => a * s, (s, a) => s * a),
        ["div"] = c => c.Arith((a, b) => a / b, (a, s) => a / s, (s, a) => s / a),
        ["neg"] = c => -c[0],
        ["abs"] = c => c[0].Abs(),
        ["exp"] = c => c[0].Exp(),
        ["log"] = c => c[0].Log(),
        ["log1p"] = c => c[0].Log1p(),
        ["sqrt"] = c => c[0].Sqrt(),
        ["rsqrt"] = c => c[0].Rsqrt(),
        ["pow"] = c => c.Has("exponent") ? c[0].Pow(c.D("exponent")) : c[0].Pow(c[1]),
        ["clamp"] = c => c[0].Clamp(c.DOpt("min"), c.DOpt("max")),
        ["sign"] = c => c[0].Sign(),
        ["floor"] = c => c[0].Floor(),
        ["round"] = c => c[0].Round(),
        ["sin"] = c => c[0].Sin(),
        ["cos"] = c => c[0].Cos(),
        ["square"] = c => c[0].Square(),
        ["reciprocal"] = c => c[0].Reciprocal(),
        ["maximum"] = c => c[0].Maximum(c[1]),
        ["minimum"] = c => c[0].Minimum(c[1]),
        ["eq"] = c => c[0].Eq(c[1]),
        ["ne"] = c => c[0].Ne(c[1]),
        ["lt"] = c => c[0] < c[1],
        ["le"] = c => c[0] <= c[1],
        ["gt"] = c => c[0] > c[1],
        ["ge"] = c => c[0] >= c[1],
        ["where"] = c => Torch.Where(c[0], c[1], c[2]),
        ["masked_fill"] = c => c[0].MaskedFill(c[1], c.D("value")),

        // ---- nn ----
        ["conv1d"] = c => F.Conv1d(c[0], c[1], c.Opt(2), c.L("stride"), c.L("padding"), c.L("dilation"), c.L("groups")),
        ["conv2d"] = c => F.Conv2d(c[0], c[1], c.Opt(2), c.P("stride"), c.P("padding"), c.P("dilation"), c.L("groups")),
        ["conv_transpose2d"] = c => F.ConvTranspose2d(c[0], c[1], c.Opt(2), c.P("stride"), c.P("padding"), c.P("output_padding"), c.L("groups"), c.P("dilation")),
        ["max_pool2d"] = c => F.MaxPool2d(c[0], c.P("kernel"), c.P("stride"), c.P("padding"), c.P("dilation"), c.B("ceil_mode")),
        ["avg_pool2d"] = c => F.AvgPool2d(c[0], c.P("kernel"), c.P("stride"), c.P("padding"), c.B("ceil_mode"), c.B("count_include_pad")),
        ["adaptive_avg_pool2d"] = c => F.AdaptiveAvgPool2d(c[0], c.P("output_size")),
        ["batch_norm"] = c => F.BatchNorm(c[0], c.Extra("running_mean_after", c[3]), c.Extra("running_var_after", c[4]), c[1], c[2], c.B("training"), c.D("momentum"), c.D("eps")),
        ["group_norm"] = c => F.GroupNorm(c[0], c.L("groups"), c[1], c[2], c.D("eps")),
        ["layer_norm"] = c => F.LayerNorm(c[0], c.Ls("normalized_shape"), c[1], c[2], c.D("eps")),
        ["embedding"] = c => F.Embedding(c[0], c[1], c.L("padding_idx") < 0 ? null : c.L("padding_idx")),
        ["pad"] = c => F.Pad(c[0], c.Ls("pad"), c.E<PadMode>("mode"), c.D("value", 0)),
        ["interpolate"] = c => F.Interpolate(c[0], c.P("size"), c.E<InterpolationMode>("mode"), c.B("align_corners")),
        ["dropout"] = c => F.Dropout(c[0], c.D("p"), c.B("training")),

        // ---- reductions ----
        ["sum"] = c => c.Dims is { } d ? c[0].Sum(d, c.Keep) : c[0].Sum(),
        ["mean"] = c => c.Dims is { } d ? c[0].Mean(d, c.Keep) : c[0].Mean(),
        ["var"] = c => c[0].Var(c.Dims, c.B("unbiased"), c.Keep),
        ["std"] = c => c[0].Std(c.Dims, c.B("unbiased"), c.Keep),
        ["amax"] = c => c[0].Amax(c.Dims, c.Keep),
        ["amin"] = c => c[0].Amin(c.Dims, c.Keep),
        ["max_dim"] = c => c.WithIndices(c[0].Max(c.L("dim"), c.Keep)),
        ["min_dim"] = c => c.WithIndices(c[0].Min(c.L("dim"), c.Keep)),
        ["argmax"] = c => c[0].Argmax(c.L("dim"), c.Keep),
        ["argmin"] = c => c[0].Argmin(c.L("dim"), c.Keep),
        ["logsumexp"] = c => c[0].LogSumExp(c.Dims, c.Keep),
        ["norm"] = c => c[0].Norm(c.D("p"), c.Dims, c.Keep),
        ["all"] = c => c[0].All(c.Dims, c.Keep),
        ["any"] = c => c[0].Any(c.Dims, c.Keep),
        ["prod"] = c => c[0].Prod(c.Dims, c.Keep),

        // ---- shape and indexing ----
        ["reshape"] = c => c[0].Reshape(c.Ls("shape")),
        ["permute"] = c => c[0].Permute(c.Ls("dims")),
        ["transpose"] = c => c[0].Transpose(c.L("dim0"), c.L("dim1")),
        ["flatten"] = c => c[0].Flatten(c.L("start_dim"), c.L("end_dim")),
        ["squeeze"] = c => c[0].Squeeze(c.L("dim")),
        ["unsqueeze"] = c => c[0].Unsqueeze(c.L("dim")),
        ["expand"] = c => c[0].Expand(c.Ls("shape")),
        ["narrow"] = c => c[0].Narrow(c.L("dim"), c.L("start"), c.L("length")),
        ["slice"] = c => c[0].Slice(c.L("dim"), c.L("start"), c.L("end"), c.L("step")),
        ["index_select"] = c => c[0].IndexSelect(c.L("dim"), c[1]),
        ["gather"] = c => c[0].Gather(c.L("dim"), c[1]),
        ["scatter"] = c => c[0].Scatter(c.L("dim"), c[1], c[2]),
        ["cat"] = c => Torch.Cat(c.Inputs, c.L("dim")),
        ["stack"] = c => Torch.Stack(c.Inputs, c.L("dim")),
        ["split"] = c => c[0].Split(c.L("split_size"), c.L("dim"))[c.L("piece")],
        ["chunk"] = c => c[0].Chunk(c.L("chunks"), c.L("dim"))[c.L("piece")],
        ["clone"] = c => c[0].Clone(),
        ["contiguous"] = c => c[0].Transpose(c.Ls("transpose_first")[0], c.Ls("transpose_first")[1]).Contiguous(),
        ["repeat"] = c => c[0].Repeat(c.Ls("repeats")),
        ["roll"] = c => c[0].Roll(c.Ls("shifts"), c.Ls("dims")),

        // ---- sorting, order statistics, masks, integer scalars ----
        ["sort"] = c => c.WithIndices(c[0].Sort(c.L("dim"), c.B("descending"))),
        ["argsort"] = c => c[0].Argsort(c.L("dim"), c.B("descending")),
        ["topk"] = c => c.WithIndices(c[0].TopK(c.L("k"), c.L("dim"), c.B("largest"))),
        ["median"] = c => c.Has("dim") ? c.WithIndices(c[0].Median(c.L("dim"), c.Keep)) : c[0].Median(),
        ["nanmedian"] = c => c.Has("dim") ? c.WithIndices(c[0].NanMedian(c.L("dim"), c.Keep)) : c[0].NanMedian(),
        ["quantile"] = c => c.Quantile(nan: false),
        ["nanquantile"] = c => c.Quantile(nan: true),
        ["kthvalue"] = c => c.WithIndices(c[0].Kthvalue(c.L("k"), c.L("dim"), c.Keep)),
        ["masked_select"] = c => c[0].MaskedSelect(c[1]),
        ["where_scalar"] = c => c.WhereScalar(),
        ["nonzero"] = c => c[0].Nonzero(),
        ["cmp_long"] = c => c.S("cmp") switch
        {
            "eq" => c[0].Eq(c.L("scalar")),
            "ne" => c[0].Ne(c.L("scalar")),
            "lt" => c[0].Lt(c.L("scalar")),
            "le" => c[0].Le(c.L("scalar")),
            "gt" => c[0] > c.L("scalar"),
            "ge" => c[0] >= c.L("scalar"),
            var other => throw new ArgumentException($"cmp_long: unknown comparison {other}"),
        },
        ["arith_long"] = c => c.S("arith") switch
        {
            "add" => c[0] + c.L("scalar"),
            "mul" => c[0] * c.L("scalar"),
            "remainder" => c[0].Remainder(c.L("scalar")),
            "rsub" => c.L("scalar") - c[0],
            var other => throw new ArgumentException($"arith_long: unknown op {other}"),
        },

        // ---- x[...] ----
        ["index"] = c => c[0].Index(c.Index()),
        ["index_put"] = c => c[0].Clone().IndexPut_(c[1], c.Index()),
    };
}
