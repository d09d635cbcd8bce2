import {EditorView, basicSetup} from "codemirror";
import {sql} from "@codemirror/lang-sql";
window.realEditors = Object.assign(window.realEditors || {}, {
  codemirror6: (parent, doc) => { new EditorView({doc, extensions: [basicSetup, sql()], parent}); },
});
