#!/bin/bash
# index_faiss_test: `vlp index export --faiss` round-trips through FAISS: faiss.read_index
# gives an IndexFlatIP whose search results equal `vlp search`'s. Needs /usr/bin/python3
# with faiss (Debian: python3-faiss); exits 77 (ctest: skipped) without it.
VLP=$1
PY=/usr/bin/python3
if ! "$PY" -c "import faiss" 2> /dev/null; then
  echo "SKIPPED: /usr/bin/python3 cannot import faiss (install the Debian package python3-faiss)"
  exit 77
fi
. "$(dirname "$0")/testlib.sh"
mkdir "$T/imgs"
cp golden/images/astronaut.png golden/images/chelsea_cat.png golden/images/coffee.jpg \
  golden/images/rocket.jpg golden/images/camera_gray.png "$T/imgs/"
"$VLP" index build -m $M/clip-tiny -o "$T/ix" "$T/imgs" > /dev/null || exit 1
"$VLP" index export "$T/ix" --faiss "$T/ix.faiss" > /dev/null || exit 1
q="a cup of coffee"
"$VLP" embed -m $M/clip-tiny --text "$q" --npy "$T/q.npy" > /dev/null || exit 1
"$VLP" search "$T/ix" "$q" -k 5 > "$T/res" || exit 1
"$PY" - "$T" <<'PYEOF'
import json, sqlite3, sys
import faiss, numpy as np
t = sys.argv[1]
raw = faiss.read_index(t + "/ix.faiss")
ix = faiss.downcast_index(raw)  # raw keeps the C++ object alive
emb = np.load(t + "/ix/" + sqlite3.connect(t + "/ix/index.db").execute(
    "SELECT value FROM meta WHERE key='npy'").fetchone()[0])
paths = [r[0] for r in sqlite3.connect(t + "/ix/index.db").execute("SELECT path FROM files ORDER BY row")]
ok = True
def check(what, cond):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok &= bool(cond)
# (faiss 1.7 reads "IxFI" back as an IndexFlat with the inner-product metric, as it does
# for the files it writes itself; newer versions return IndexFlatIP, a subclass)
check("read_index gives a flat index (%s)" % type(ix).__name__, isinstance(ix, faiss.IndexFlat))
check("metric is inner product", ix.metric_type == faiss.METRIC_INNER_PRODUCT)
check("ntotal %d == %d, d %d == %d" % (ix.ntotal, emb.shape[0], ix.d, emb.shape[1]),
      ix.ntotal == emb.shape[0] and ix.d == emb.shape[1])
check("vectors equal the .npy", np.array_equal(faiss.rev_swig_ptr(ix.get_xb(), ix.ntotal * ix.d).reshape(emb.shape), emb))
ref = faiss.IndexFlatIP(emb.shape[1])
ref.add(emb)
faiss.write_index(ref, t + "/ref.faiss")
check("byte-identical to faiss.write_index(IndexFlatIP)",
      open(t + "/ref.faiss", "rb").read() == open(t + "/ix.faiss", "rb").read())
q = np.load(t + "/q.npy").astype("float32")
D, I = ix.search(q, 5)
res = [json.loads(l) for l in open(t + "/res")]
check("same number of results", len(res) == 5)
for r, (d, i) in enumerate(zip(D[0], I[0])):
    check("rank %d: faiss %s %.6f, vlp %s %.6f" % (r + 1, paths[i], d, res[r]["path"], res[r]["score"]),
          paths[i] == res[r]["path"] and abs(d - res[r]["score"]) <= 1e-5)
sys.exit(0 if ok else 1)
PYEOF
