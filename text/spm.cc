// spm: the C interface of text/spm.h over SentencePiece's C++ SentencePieceProcessor.
// Every entry point catches exceptions (allocation failures) and returns an error instead.
#include "text/spm.h"

#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

struct spm_model {
  sentencepiece::SentencePieceProcessor sp;
};

static void set_err(char *err, size_t errsize, const std::string &msg) {
  if (err && errsize) std::snprintf(err, errsize, "%s", msg.c_str());
}

extern "C" int spm_load(const char *data, size_t n, spm_model **out, char *err, size_t errsize) {
  *out = nullptr;
  try {
    spm_model *m = new spm_model;
    auto st = m->sp.LoadFromSerializedProto(absl::string_view(data, n));
    if (!st.ok()) {
      set_err(err, errsize, st.ToString());
      delete m;
      return -1;
    }
    *out = m;
    return 0;
  } catch (const std::exception &e) {
    set_err(err, errsize, e.what());
  } catch (...) {
    set_err(err, errsize, "unknown error");
  }
  return -1;
}

extern "C" void spm_free(spm_model *m) {
  delete m;
}

extern "C" int spm_piece_count(const spm_model *m) {
  return m->sp.GetPieceSize();
}

extern "C" int spm_encode(const spm_model *m, const char *text, size_t n, spm_piece_fn fn,
                          void *ctx, char *err, size_t errsize) {
  try {
    std::vector<std::string> pieces;
    auto st = m->sp.Encode(absl::string_view(text, n), &pieces);
    if (!st.ok()) {
      set_err(err, errsize, st.ToString());
      return -1;
    }
    for (const std::string &p : pieces)
      if (fn(ctx, p.data(), p.size())) return -2;
    return 0;
  } catch (const std::exception &e) {
    set_err(err, errsize, e.what());
  } catch (...) {
    set_err(err, errsize, "unknown error");
  }
  return -1;
}

extern "C" int spm_piece_to_id(const spm_model *m, const char *piece, size_t len) {
  try {
    return m->sp.PieceToId(absl::string_view(piece, len));
  } catch (...) {
    return -1;
  }
}

extern "C" const char *spm_id_to_piece(const spm_model *m, int id) {
  if (id < 0 || id >= m->sp.GetPieceSize()) return nullptr;
  return m->sp.IdToPiece(id).c_str();
}

extern "C" int spm_decode(const spm_model *m, const char *const *pieces, int n, char **out,
                          char *err, size_t errsize) {
  *out = nullptr;
  try {
    std::vector<std::string> v(pieces, pieces + n);
    std::string text;
    auto st = m->sp.Decode(v, &text);
    if (!st.ok()) {
      set_err(err, errsize, st.ToString());
      return -1;
    }
    char *s = static_cast<char *>(std::malloc(text.size() + 1));
    if (!s) {
      set_err(err, errsize, "out of memory");
      return -1;
    }
    std::memcpy(s, text.data(), text.size());
    s[text.size()] = 0;
    *out = s;
    return 0;
  } catch (const std::exception &e) {
    set_err(err, errsize, e.what());
  } catch (...) {
    set_err(err, errsize, "unknown error");
  }
  return -1;
}
