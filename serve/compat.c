/* compat: endpoints that existing clients already speak.
 * - immich machine-learning: POST /predict, multipart with "entries" (JSON: {"clip":
 *   {"visual" | "textual": {"modelName", "options"}}}) and an "image" file or a "text" field;
 *   answers {"clip": "[...]"} (the embedding as a JSON-array string), plus imageHeight and
 *   imageWidth for images. Errors are FastAPI-style {"detail": ...}. GET /ping -> "pong".
 * - clip-retrieval's back-end: POST /knn-service (text, base64 image or embedding_input;
 *   num_images, indice_name, modality) answers [{"id", "similarity", "url", "caption"}];
 *   GET /indices-list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

static void predict_finish(job *j, worker *w) {
  (void)w;
  int dim = j->model->dim;
  sbuf b = {0};
  sb_puts(&b, "{\"clip\": \"[");
  for (int i = 0; i < dim; i++) {
    if (i) sb_puts(&b, ",");
    sb_json_float(&b, j->emb[i]);
  }
  sb_puts(&b, "]\"");
  if (j->kind == K_EMBED_IMAGE)
    sb_printf(&b, ", \"imageHeight\": %d, \"imageWidth\": %d", j->imgs[0].h, j->imgs[0].w);
  sb_puts(&b, "}");
  reply_json(&j->rep, 200, &b);
}

void h_predict(request *r, form *f) {
  int bad = 0;
  const char *entries = form_str(f, "entries", &bad);
  if (bad || !entries) return reply_detail(&r->rep, 422, "Invalid request format.");
  cJSON *e = cJSON_Parse(entries);
  const cJSON *clip = e ? cJSON_GetObjectItemCaseSensitive(e, "clip") : NULL;
  const cJSON *vis = clip ? cJSON_GetObjectItemCaseSensitive(clip, "visual") : NULL;
  const cJSON *txt = clip ? cJSON_GetObjectItemCaseSensitive(clip, "textual") : NULL;
  const cJSON *entry = vis ? vis : txt;
  const cJSON *name = entry ? cJSON_GetObjectItemCaseSensitive(entry, "modelName") : NULL;
  char msg[300];
  if (!cJSON_IsObject(e) || !cJSON_IsString(name) || (vis && txt)) {
    int other = cJSON_IsObject(e) && !clip && cJSON_GetArraySize(e) > 0;
    cJSON_Delete(e);
    return reply_detail(&r->rep, 422,
                        other ? "vlp serves only the \"clip\" task (visual or textual)"
                              : "Invalid request format.");
  }
  srv_model *m = find_model(r->srv, name->valuestring);
  if (!m || !m->dim) {
    snprintf(msg, sizeof msg, "%s model '%.100s' (GET /v1/models lists the loaded ones)",
             m ? "no embeddings from" : "unknown", name->valuestring);
    cJSON_Delete(e);
    return reply_detail(&r->rep, 422, msg);
  }
  int visual = vis != NULL;
  cJSON_Delete(e);
  const char *text = form_str(f, "text", &bad);
  vlp_image *imgs = NULL;
  int n = 0;
  for (int i = 0; i < f->n_parts; i++)
    if (!strcmp(f->parts[i].name, "image")) {
      imgs = calloc(1, sizeof *imgs);
      if (!imgs) return reply_detail(&r->rep, 503, "out of memory");
      if (decode_image(r, f->parts[i].data, f->parts[i].len, "image", imgs)) {
        free(imgs);
        snprintf(msg, sizeof msg, "%s", "the image cannot be decoded or is too large");
        int status = r->rep.status;
        return reply_detail(&r->rep, status, msg);
      }
      n = 1;
      break;
    }
  if (!n && !text) return reply_detail(&r->rep, 400, "Either image or text must be provided");
  if (n && !visual) {
    free_images(imgs, n);
    return reply_detail(&r->rep, 422, "an image needs a \"visual\" entry");
  }
  if (!n && visual) return reply_detail(&r->rep, 422, "text needs a \"textual\" entry");
  if (!n && !text[0]) return reply_detail(&r->rep, 422, "the text is empty");
  job *j = job_new(n ? K_EMBED_IMAGE : K_EMBED_TEXT, m);
  if (j && !n && (j->texts = calloc(1, sizeof *j->texts))) j->texts[0] = strdup(text);
  if (!j || (!n && (!j->texts || !j->texts[0]))) {
    if (j && j->texts) j->n = 1;
    job_free(j);
    free_images(imgs, n);
    return reply_detail(&r->rep, 503, "out of memory");
  }
  j->imgs = imgs;
  j->n = 1;
  j->finish = predict_finish;
  job_submit(r->srv, r, j);
}

void h_knn(request *r, form *f) {
  if (!f->json) return reply_error(&r->rep, 400, "/knn-service takes a JSON body");
  int bad = 0;
  const char *url = form_str(f, "image_url", &bad);
  if (bad) return;
  if (url)
    return reply_error(&r->rep, 400,
                       "\"image_url\": vlp serve never fetches URLs; send \"image\" as base64");
  const char *modality = form_str(f, "modality", &bad);
  if (bad) return;
  if (modality && strcmp(modality, "image"))
    return reply_error(&r->rep, 400,
                       "\"modality\": the indexes of vlp hold images only; use \"image\"");
  int k = form_int(f, "num_images", 1, 1000, 40, &bad);
  if (bad) return;
  srv_index *x = pick_index(r, f, "indice_name");
  if (!x) return;
  job *j = search_job(r, f, x, k, 0, "text", "embedding_input", 1);
  if (j) job_submit(r->srv, r, j);
}

void h_indices_list(request *r) {
  sbuf b = {0};
  sb_puts(&b, "[");
  for (int i = 0; i < r->srv->n_indexes; i++) {
    if (i) sb_puts(&b, ", ");
    sb_json_str(&b, srv_index_name(r->srv->indexes[i]));
  }
  sb_puts(&b, "]");
  reply_json(&r->rep, 200, &b);
}
