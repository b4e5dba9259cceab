// /docs: Swagger UI (loaded just before this script) reading the app's own /openapi.json.
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.specUrl,
  domNode: root,
  deepLinking: true,
  // The page's cookie is the session: "Try it out" acts as this browser, on its own orders.
  withCredentials: true,
  validatorUrl: null, // no call to swagger.io's validator
});
