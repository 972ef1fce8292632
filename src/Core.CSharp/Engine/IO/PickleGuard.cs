using System.Buffers.Binary;
using System.Text;

namespace Dsl.Engine.IO;

/// <summary>
/// Reads a pickle's opcodes without running any of them and lists every global it names (GLOBAL, INST and
/// protocol 4's STACK_GLOBAL, whose module and name come from the stack, which is simulated exactly for this).
/// <see cref="PyTorchWeights"/> refuses a pickle naming a global outside its allow-list before it is unpickled, so
/// loading weights never resolves anything else. Extension codes (EXT1/2/4) and STACK_GLOBAL arguments that are not
/// plain strings are refused outright.
/// </summary>
static class PickleGuard
{
    sealed class Mark;

    static readonly object Opaque = new();
    static readonly Mark MarkValue = new();

    /// <summary>Every global the pickle names, as "module.name", in order; throws InvalidDataException for what it cannot vouch for.</summary>
    public static List<string> Globals(ReadOnlySpan<byte> p, string what)
    {
        var globals = new List<string>();
        var stack = new List<object>();
        var memo = new Dictionary<long, object>();
        int at = 0;
        Exception Bad(string why) => new InvalidDataException($"{what}: {why} (at byte {at} of the pickle). It is not a state dict that torch.save wrote; nothing was loaded.");
        ReadOnlySpan<byte> Take(ReadOnlySpan<byte> s, long n)
        {
            if (n < 0 || at + n > s.Length) throw Bad("the pickle is truncated");
            var r = s.Slice(at, (int)n);
            at += (int)n;
            return r;
        }
        string Line(ReadOnlySpan<byte> s)
        {
            var end = s[at..].IndexOf((byte)'\n');
            if (end < 0) throw Bad("the pickle is truncated");
            var r = Encoding.UTF8.GetString(s.Slice(at, end));
            at += end + 1;
            return r;
        }
        object Pop()
        {
            if (stack.Count == 0) throw Bad("the pickle pops an empty stack");
            var v = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return v;
        }
        void PopN(int n) { for (int i = 0; i < n; i++) Pop(); }
        void PopMark()
        {
            while (true) if (Pop() == MarkValue) return;
        }
        void Push(object v) => stack.Add(v);
        void Put(long index) => memo[index] = stack.Count > 0 ? stack[^1] : throw Bad("the pickle memoizes an empty stack");
        void Get(long index) => Push(memo.TryGetValue(index, out var v) ? v : throw Bad($"the pickle reads memo {index}, which it never wrote"));

        while (true)
        {
            if (at >= p.Length) throw Bad("the pickle ends without STOP");
            var op = p[at++];
            switch (op)
            {
                case (byte)'.': return globals;                                           // STOP
                case (byte)'(': Push(MarkValue); break;                                   // MARK
                case (byte)'0': Pop(); break;                                             // POP
                case (byte)'1': PopMark(); break;                                         // POP_MARK
                case (byte)'2': Push(stack.Count > 0 ? stack[^1] : throw Bad("DUP of an empty stack")); break;
                case (byte)'N' or 0x88 or 0x89 or (byte)')' or (byte)']' or (byte)'}' or 0x8f: Push(Opaque); break;
                case (byte)'I' or (byte)'L' or (byte)'F': Line(p); Push(Opaque); break;
                case (byte)'S': Line(p); Push(Opaque); break;                             // protocol-0 string: not a STACK_GLOBAL argument
                case (byte)'V': Push(Line(p)); break;                                     // UNICODE
                case (byte)'P': Line(p); Push(Opaque); break;                             // PERSID
                case (byte)'Q': Pop(); Push(Opaque); break;                               // BINPERSID
                case (byte)'K': Take(p, 1); Push(Opaque); break;
                case (byte)'M': Take(p, 2); Push(Opaque); break;
                case (byte)'J': Take(p, 4); Push(Opaque); break;
                case (byte)'G': Take(p, 8); Push(Opaque); break;
                case 0x8a: Take(p, Take(p, 1)[0]); Push(Opaque); break;                   // LONG1
                case 0x8b: Take(p, BinaryPrimitives.ReadInt32LittleEndian(Take(p, 4))); Push(Opaque); break;
                case (byte)'U' or (byte)'C': Take(p, Take(p, 1)[0]); Push(Opaque); break; // SHORT_BINSTRING, SHORT_BINBYTES
                case (byte)'T' or (byte)'B': Take(p, BinaryPrimitives.ReadInt32LittleEndian(Take(p, 4))); Push(Opaque); break;
                case 0x8e or 0x96: Take(p, BinaryPrimitives.ReadInt64LittleEndian(Take(p, 8))); Push(Opaque); break;
                case 0x8c: Push(Encoding.UTF8.GetString(Take(p, Take(p, 1)[0]))); break; // SHORT_BINUNICODE
                case (byte)'X': Push(Encoding.UTF8.GetString(Take(p, BinaryPrimitives.ReadUInt32LittleEndian(Take(p, 4))))); break;
                case 0x8d: Push(Encoding.UTF8.GetString(Take(p, BinaryPrimitives.ReadInt64LittleEndian(Take(p, 8))))); break;
                case (byte)'a': Pop(); break;                                             // APPEND
                case (byte)'s': PopN(2); break;                                           // SETITEM
                case (byte)'e' or (byte)'u' or 0x90: PopMark(); break;                    // APPENDS, SETITEMS, ADDITEMS
                case (byte)'t' or (byte)'l' or (byte)'d' or 0x91: PopMark(); Push(Opaque); break;
                case 0x85: PopN(1); Push(Opaque); break;                                  // TUPLE1..3
                case 0x86: PopN(2); Push(Opaque); break;
                case 0x87: PopN(3); Push(Opaque); break;
                case (byte)'R': PopN(2); Push(Opaque); break;                             // REDUCE
                case (byte)'b': Pop(); break;                                             // BUILD
                case 0x81: PopN(2); Push(Opaque); break;                                  // NEWOBJ
                case 0x92: PopN(3); Push(Opaque); break;                                  // NEWOBJ_EX
                case (byte)'o': PopMark(); Push(Opaque); break;                           // OBJ (its class is on the stack, named by a GLOBAL)
                case (byte)'c': globals.Add(Line(p) + "." + Line(p)); Push(Opaque); break;
                case (byte)'i': globals.Add(Line(p) + "." + Line(p)); PopMark(); Push(Opaque); break;
                case 0x93:                                                               // STACK_GLOBAL
                    {
                        var name = Pop();
                        var module = Pop();
                        if (module is not string m || name is not string n) throw Bad("STACK_GLOBAL names a global with values that are not plain strings");
                        globals.Add(m + "." + n);
                        Push(Opaque);
                        break;
                    }
                case (byte)'g': Get(long.Parse(Line(p), System.Globalization.CultureInfo.InvariantCulture)); break;
                case (byte)'h': Get(Take(p, 1)[0]); break;
                case (byte)'j': Get(BinaryPrimitives.ReadUInt32LittleEndian(Take(p, 4))); break;
                case (byte)'p': Put(long.Parse(Line(p), System.Globalization.CultureInfo.InvariantCulture)); break;
                case (byte)'q': Put(Take(p, 1)[0]); break;
                case (byte)'r': Put(BinaryPrimitives.ReadUInt32LittleEndian(Take(p, 4))); break;
                case 0x94: Put(memo.Count); break;                                        // MEMOIZE
                case 0x80: Take(p, 1); break;                                             // PROTO
                case 0x95: Take(p, 8); break;                                             // FRAME
                case 0x82 or 0x83 or 0x84: throw Bad("the pickle uses the copyreg extension registry (EXT1/2/4), which a state dict never does");
                default: throw Bad($"opcode 0x{op:x2} is not one Dsl reads");
            }
        }
    }
}
