/* The blacklist's cheap check in one compiled pass (apps/moderation/normalise.py, fold_fast).
 *
 * Every message goes through fold(): in numpy the same work is a dozen array calls of a µs or
 * more each, whatever the message's length, plus two regex searches; here it is one loop over
 * the characters. It reads the tables normalise.py and pinyin.py build (handed over once by
 * init() and init_view(), never recomputed here), so what a character folds to is defined in one
 * place only, and normalise_reference stays the definition the tests compare this against.
 *
 * fold(text, want_view) returns None when a character folds to more than one character (ß, ⑩:
 * rare, the caller takes the reference's way), else a normalise.Folded with
 *     (normalised text, drops, None, None, longest digit run, syllable view or None, view hint)
 * drops: the original positions the normalised text leaves out, sorted, each once.
 * Longest digit run: of characters the regex module calls \d, deleted characters skipped (they
 * drop from between two digits), as Folded.has_digit_run asks.
 * Syllable view: pinyin.syllable_view_fast of the normalised text.
 * View hint: matcher._VIEW_HINT.search(normalised) is not None, its three branches written out.
 *
 * Plain C API, no third-party headers: built at install time by apps/moderation/build_fold.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Kind bits, as normalise.py defines them (packed = fold | kind << 24). */
#define CJK 1
#define SEPARATOR 2
#define DELETED 4
#define MULTI 8
#define DIGIT 16
#define KIND_SHIFT 24
#define FOLD_MASK 0xFFFFFFu
#define TABLE_SIZE 0x110000
/* Messages are ~200 characters: their work arrays live on the stack; longer ones take the heap. */
#define STACK_CHARS 1024

/* Held for the module's lifetime: the exported buffers keep the numpy arrays alive and unresized. */
static Py_buffer packed_buffer;
static Py_buffer view_buffer;
static const uint32_t *packed = NULL;
static const uint32_t *syllable = NULL;
/* normalise.Folded, a NamedTuple: built here directly, which saves the ~0.5 µs its Python
 * __new__ costs on every message. */
static PyTypeObject *folded_type = NULL;
#define FOLDED_FIELDS 7  /* text, drops, reference, kinds, digit_run, syllables, hint */

static int
is_cjk(Py_UCS4 c)
{
    /* normalise._CJK_RANGES and the matcher's _CJK class */
    return (c >= 0x3400 && c < 0x4DC0) || (c >= 0x4E00 && c < 0xA000) || (c >= 0x20000 && c < 0x31350);
}

static int
is_token(Py_UCS4 c)
{
    /* latin.TOKEN: a-z0-9@$ */
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '@' || c == '$';
}

static int
is_leet_symbol(Py_UCS4 c)
{
    /* what latin.LEET_AFTER_FIRST's transition looks for beside a letter: [0135@$] */
    return c == '0' || c == '1' || c == '3' || c == '5' || c == '@' || c == '$';
}

static int
is_leet(Py_UCS4 c)
{
    /* latin._LEET: a-z0135@$ */
    return (c >= 'a' && c <= 'z') || is_leet_symbol(c);
}

static int
is_boundary(Py_UCS4 c)
{
    /* the clause punctuation latin.GAP excludes: ,。!?;:、，！？；： */
    switch (c) {
    case ',': case 0x3002: case '!': case '?': case ';': case ':':
    case 0x3001: case 0xFF0C: case 0xFF01: case 0xFF1F: case 0xFF1B: case 0xFF1A:
        return 1;
    default:
        return 0;
    }
}

static int
is_gap(Py_UCS4 c)
{
    /* latin.GAP, (?:[^\w{TOKEN}{boundary}]|_). The re module's \w on str is
     * Py_UNICODE_ISALNUM(c) || c == '_' (its _sre.c), so this asks the same Unicode data. */
    if (c == '_')
        return 1;
    return !Py_UNICODE_ISALNUM(c) && !is_token(c) && !is_boundary(c);
}

/* matcher._VIEW_HINT at a token start p of the normalised text t[0..n): the first character of a
 * token, followed by a spaced chain (CHAIN_AFTER_FIRST), a leet token (LEET_AFTER_FIRST) or a
 * letter or digit inserted between CJK characters (_INSERTED_AFTER_FIRST). */
static int
hint_at(const Py_UCS4 *t, Py_ssize_t n, Py_ssize_t p)
{
    Py_UCS4 c = t[p];
    Py_ssize_t q;
    /* Chain: a one-character token, one or more gap characters, another one-character token.
     * The gap run is maximal: a token character is never a gap character. */
    if (p + 1 < n && is_gap(t[p + 1])) {
        q = p + 1;
        while (q < n && is_gap(t[q]))
            q++;
        if (q < n && is_token(t[q]) && (q + 1 >= n || !is_token(t[q + 1])))
            return 1;
    }
    /* Leet: the whole token (up to the next non-token character) is made of [a-z0135@$], is
     * three or more long, and somewhere a letter touches one of 0135@$. */
    if (is_leet(c)) {
        int changes = 0;
        q = p + 1;
        while (q < n && is_leet(t[q])) {
            if ((is_leet_symbol(t[q]) && t[q - 1] >= 'a' && t[q - 1] <= 'z') ||
                (t[q] >= 'a' && t[q] <= 'z' && is_leet_symbol(t[q - 1])))
                changes = 1;
            q++;
        }
        if (changes && q - p >= 3 && (q >= n || !is_token(t[q])))
            return 1;
    }
    /* Inserted: [a-z0-9] with a CJK character on each side, a gap character or none between. */
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        int before = (p >= 1 && is_cjk(t[p - 1])) || (p >= 2 && is_gap(t[p - 1]) && is_cjk(t[p - 2]));
        int after = (p + 1 < n && is_cjk(t[p + 1])) || (p + 2 < n && is_gap(t[p + 1]) && is_cjk(t[p + 2]));
        if (before && after)
            return 1;
    }
    return 0;
}

static int
view_hint(const Py_UCS4 *t, Py_ssize_t n)
{
    for (Py_ssize_t p = 0; p < n; p++) {
        if (is_token(t[p]) && (p == 0 || !is_token(t[p - 1])) && hint_at(t, n, p))
            return 1;
    }
    return 0;
}

/* Borrow a uint32 table of one entry per code point: every code point indexes it unchecked, so
 * anything shorter is refused. The previous table, if any, is released. */
static int
hold_table(PyObject *obj, Py_buffer *held, const uint32_t **table, uint32_t value_mask)
{
    Py_buffer fresh;
    if (PyObject_GetBuffer(obj, &fresh, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (fresh.len != TABLE_SIZE * 4) {
        PyBuffer_Release(&fresh);
        PyErr_SetString(PyExc_ValueError, "want a uint32 table of 0x110000 entries");
        return -1;
    }
    /* fold() indexes the view table with what this one holds, unchecked: every value must be a
     * code point. One pass over 1.1M entries (about a millisecond), once per worker. */
    const uint32_t *entries = (const uint32_t *)fresh.buf;
    for (Py_ssize_t i = 0; i < TABLE_SIZE; i++) {
        if ((entries[i] & value_mask) >= TABLE_SIZE) {
            PyBuffer_Release(&fresh);
            PyErr_Format(PyExc_ValueError, "table entry %zd holds no code point", i);
            return -1;
        }
    }
    if (*table != NULL)
        PyBuffer_Release(held);
    *held = fresh;
    *table = (const uint32_t *)held->buf;
    return 0;
}

static PyObject *
fold_init(PyObject *self, PyObject *args)
{
    PyObject *table, *type;
    if (!PyArg_ParseTuple(args, "OO!", &table, &PyType_Type, &type))
        return NULL;
    /* Filled item by item below, as tuple.__new__ does: only a tuple subclass with no fields of
     * its own (a NamedTuple's __slots__ = ()) has that layout. */
    if (!PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type) ||
        ((PyTypeObject *)type)->tp_basicsize != PyTuple_Type.tp_basicsize) {
        PyErr_SetString(PyExc_TypeError, "init() wants a NamedTuple class for the result");
        return NULL;
    }
    if (hold_table(table, &packed_buffer, &packed, FOLD_MASK) < 0)
        return NULL;
    Py_INCREF(type);
    Py_XSETREF(folded_type, (PyTypeObject *)type);
    Py_RETURN_NONE;
}

/* Apart from init(): pinyin's table costs a second or so to build, and only matchers with terms
 * marked for pinyin ask for the view. */
static PyObject *
fold_init_view(PyObject *self, PyObject *table)
{
    if (hold_table(table, &view_buffer, &syllable, 0xFFFFFFFFu) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* METH_FASTCALL: no argument tuple to build and parse, on the call every message makes. */
static PyObject *
fold_fold(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "fold(text: str, want_view: bool)");
        return NULL;
    }
    PyObject *text = args[0];
    if (PyUnicode_READY(text) < 0)  /* a no-op for any str built since 3.3; the legacy C API aside */
        return NULL;
    int want_view = PyObject_IsTrue(args[1]);
    if (want_view < 0)
        return NULL;
    if (folded_type == NULL || (want_view && syllable == NULL)) {
        PyErr_SetString(PyExc_RuntimeError, "fold() before init() (or init_view() for the view)");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);

    /* Work arrays: each character's fold and kind, whether it stays, the normalised text and the
     * syllable view (both at most n long). */
#define BYTES_PER_CHAR (3 * sizeof(Py_UCS4) + 2)
    Py_UCS4 stack[(STACK_CHARS * BYTES_PER_CHAR + sizeof(Py_UCS4) - 1) / sizeof(Py_UCS4)];  /* aligned */
    Py_UCS4 *block = stack;
    if (n > STACK_CHARS) {
        if ((size_t)n > PY_SSIZE_T_MAX / BYTES_PER_CHAR)
            return PyErr_NoMemory();
        block = PyMem_Malloc((size_t)n * BYTES_PER_CHAR);
        if (block == NULL)
            return PyErr_NoMemory();
    }
    Py_UCS4 *folds = block;
    Py_UCS4 *out = folds + n;
    Py_UCS4 *view = out + n;
    uint8_t *kinds = (uint8_t *)(view + n);
    uint8_t *keep = kinds + n;
    PyObject *result = NULL;

    int dropped = 0;
    Py_ssize_t digit_run = 0, best_run = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t entry = packed[PyUnicode_READ(kind, data, i)];
        uint8_t k = (uint8_t)(entry >> KIND_SHIFT);
        if (k & MULTI) {
            result = Py_None;  /* the reference's way: the caller runs normalise_reference */
            Py_INCREF(result);
            goto done;
        }
        folds[i] = entry & FOLD_MASK;
        kinds[i] = k;
        keep[i] = !(k & DELETED);
        dropped |= !keep[i];
        /* Only deleted characters drop from between two digits; anything else ends a run. */
        if (k == DIGIT) {
            if (++digit_run > best_run)
                best_run = digit_run;
        }
        else if (!(k & DELETED)) {
            digit_run = 0;
        }
    }

    /* Separator runs (separators and deleted characters) between two CJK characters go, and a
     * CJK character repeating the one before it goes, directly or across such a run (傻 傻逼). */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (kinds[i] != CJK)
            continue;
        if (i > 0 && kinds[i - 1] == CJK && folds[i - 1] == folds[i]) {
            keep[i] = 0;
            dropped = 1;
        }
        Py_ssize_t end = i + 1;
        while (end < n && (kinds[end] & SEPARATOR))
            end++;
        if (end > i + 1 && end < n && kinds[end] == CJK) {
            for (Py_ssize_t j = i + 1; j < end; j++)
                keep[j] = 0;
            if (folds[end] == folds[i])
                keep[end] = 0;
            dropped = 1;
        }
    }

    Py_ssize_t length = 0, view_length = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (keep[i]) {
            out[length++] = folds[i];
            if (want_view) {
                uint32_t mapped = syllable[folds[i]];
                if (mapped != 0)
                    view[view_length++] = mapped;
            }
        }
    }

    PyObject *normalised = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, length);
    PyObject *drops = PyList_New(dropped ? n - length : 0);
    PyObject *view_text = want_view ? PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, view, view_length)
                                    : Py_NewRef(Py_None);
    PyObject *run = PyLong_FromSsize_t(best_run);
    if (normalised == NULL || drops == NULL || view_text == NULL || run == NULL) {
        Py_XDECREF(normalised);
        Py_XDECREF(drops);
        Py_XDECREF(view_text);
        Py_XDECREF(run);
        goto done;
    }
    if (dropped) {
        Py_ssize_t d = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (keep[i])
                continue;
            PyObject *position = PyLong_FromSsize_t(i);
            if (position == NULL) {
                Py_DECREF(normalised);
                Py_DECREF(drops);
                Py_DECREF(view_text);
                Py_DECREF(run);
                goto done;
            }
            PyList_SET_ITEM(drops, d++, position);
        }
    }
    PyObject *items[FOLDED_FIELDS] = {
        normalised, drops, Py_NewRef(Py_None), Py_NewRef(Py_None), run, view_text,
        PyBool_FromLong(view_hint(out, length)),
    };
    /* Every item exists before the tuple does: nothing can run (a GC pass) while it is half-filled. */
    result = folded_type->tp_alloc(folded_type, FOLDED_FIELDS);
    for (int f = 0; f < FOLDED_FIELDS; f++) {
        if (result != NULL)
            PyTuple_SET_ITEM(result, f, items[f]);
        else
            Py_DECREF(items[f]);
    }

done:
    if (block != stack)
        PyMem_Free(block);
    return result;
}

static PyMethodDef methods[] = {
    {"init", fold_init, METH_VARARGS, "init(packed, Folded): normalise.tables().packed and the result class, once."},
    {"init_view", fold_init_view, METH_O, "init_view(view): pinyin.syllables().view, once."},
    {"fold", (PyCFunction)(void (*)(void))fold_fold, METH_FASTCALL,
     "fold(text, want_view) -> Folded, or None for the reference's way."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fold", "The blacklist's cheap check in one compiled pass.", -1, methods,
};

PyMODINIT_FUNC
PyInit__fold(void)
{
    return PyModule_Create(&module);
}
