using System.Runtime.InteropServices;
using Dsl.Engine.Interop;

namespace Dsl.Engine;

/// <summary>
/// An operation failed in libtorch or was given bad input. Carries the op name, libtorch's message
/// (without the C++ backtrace) and the shapes and dtypes of the tensor arguments.
/// </summary>
public sealed class TorchException : Exception
{
    /// <summary>The Dsl operation that failed, e.g. <c>matmul</c>.</summary>
    public string Op { get; }
    /// <summary>libtorch's message, or Dsl's own when it rejected the input itself.</summary>
    public string NativeMessage { get; }
    /// <summary>Shape and dtype of each tensor argument, e.g. <c>[2, 3] float32</c>.</summary>
    public IReadOnlyList<string> ArgumentShapes { get; }

    /// <summary>Creates the exception; the message combines all three parts and a hint where one is known.</summary>
    public TorchException(string op, string nativeMessage, IReadOnlyList<string> argumentShapes)
        : base(Compose(op, nativeMessage, argumentShapes))
    {
        Op = op;
        NativeMessage = nativeMessage;
        ArgumentShapes = argumentShapes;
    }

    static string Compose(string op, string message, IReadOnlyList<string> shapes)
    {
        var args = shapes.Count == 0 ? "" : $" [arguments: {string.Join("; ", shapes)}]";
        var hint = Hints.For(op, message);
        return $"{op}: {message}{args}{(hint is null ? "" : " Hint: " + hint)}";
    }
}

/// <summary>Builds exceptions after a native call failed, and checks results on the hot path without allocating.</summary>
internal static class Errors
{
    static string TakeMessage()
    {
        unsafe
        {
            var p = Native.dsl_error_message();
            var msg = p == null ? "unknown native error" : Marshal.PtrToStringUTF8((nint)p) ?? "unknown native error";
            Native.dsl_error_clear();
            return msg;
        }
    }

    internal static string Describe(Tensor? t) =>
        t is null ? "none" : t.IsDisposed ? "<disposed>" : $"[{string.Join(", ", t.Shape)}] {t.DType.Name()}{(t.Device.Type == DeviceType.Cpu ? "" : " on " + t.Device)}";

    internal static ObjectDisposedException Disposed(string op) =>
        new(nameof(Tensor), $"{op}: a tensor argument was already disposed (by Dispose or by the DisposeScope that owned it). " +
                            "Fix: keep it alive with scope.MoveOut(t) / t.MoveToOuterScope(), or create it outside the scope.");

    internal static Exception Fail(string op, Tensor? a = null, Tensor? b = null, Tensor? c = null, Tensor? d = null, Tensor? e = null)
    {
        var msg = TakeMessage();
        var args = new[] { a, b, c, d, e };
        for (int i = 0; i < args.Length; i++)
            if (args[i] is { IsDisposed: true })
                return new ObjectDisposedException(nameof(Tensor),
                    $"{op}: tensor argument {i + 1} was already disposed (by Dispose or by the DisposeScope that owned it). " +
                    "Fix: keep it alive with scope.MoveOut(t) / t.MoveToOuterScope(), or create it outside the scope.");
        return new TorchException(op, msg, args.Where(x => x is not null).Select(Describe).ToArray());
    }

    internal static Exception Fail(string op, IEnumerable<Tensor> args)
    {
        var list = args.ToList();
        var msg = TakeMessage();
        if (list.Any(t => t.IsDisposed))
            return new ObjectDisposedException(nameof(Tensor), $"{op}: a tensor argument was already disposed.");
        return new TorchException(op, msg, list.Select(Describe).ToArray());
    }

    /// <summary>Wraps a tensor result, or throws naming the op and the arguments.</summary>
    internal static Tensor T(nint h, string op, Tensor? a = null, Tensor? b = null, Tensor? c = null, Tensor? d = null, Tensor? e = null) =>
        h != 0 ? new Tensor(h) : throw Fail(op, a, b, c, d, e);

    /// <summary>As <see cref="T(nint, string, Tensor?, Tensor?, Tensor?, Tensor?, Tensor?)"/>, keeping the generator alive across the native call.</summary>
    internal static Tensor T(nint h, string op, Generator? generator, Tensor? a = null)
    {
        GC.KeepAlive(generator);
        return T(h, op, a);
    }

    /// <summary>Checks a status result (negative means failure).</summary>
    internal static int S(int rc, string op, Generator? generator, Tensor? a)
    {
        GC.KeepAlive(generator);
        return S(rc, op, a);
    }

    internal static int S(int rc, string op, Tensor? a = null, Tensor? b = null, Tensor? c = null)
    {
        if (rc < 0) throw Fail(op, a, b, c);
        return rc;
    }

    internal static TorchException Bad(string op, string message, params Tensor?[] args) =>
        new(op, message, args.Where(x => x is not null).Select(Describe).ToArray());
}

/// <summary>Fixes suggested for the common failures, keyed by op and message.</summary>
internal static class Hints
{
    internal static string? For(string op, string message)
    {
        if (message.Contains("cannot be multiplied") || (op is "matmul" or "mm" or "bmm" or "linear" && message.Contains("shape")))
            return "the last dim of the left operand must equal the first (or second-to-last) dim of the right; transpose or reshape one operand, or add flatten before a dense layer.";
        if (message.Contains("must match the size") || message.Contains("broadcast"))
            return "shapes broadcast when, from the right, each pair of dims is equal or one of them is 1; reshape or unsqueeze one operand.";
        if (op.StartsWith("conv") && (message.Contains("channels") || message.Contains("Expected")))
            return "conv input is [batch, channels, ...] and its channel count must equal weight.shape[1] * groups; permute NHWC data to NCHW or fix in_channels.";
        if (message.Contains("expected scalar type") || message.Contains("dtype") || message.Contains("but found") || message.Contains("not implemented for"))
            return "convert one operand with .To(DType.Float32) (or the dtype the op expects; class labels are int64).";
        if (message.Contains("out of range") || message.Contains("out of bounds") || message.Contains("index"))
            return "indices must lie in [-size, size) for the dimension indexed; class labels must lie in [0, num_classes).";
        return null;
    }
}
