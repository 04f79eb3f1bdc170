import { Line } from "../lib/change.js";

export const v5: Line = {
  changes: [],
  intro: "",
  name: "5.x",
  paths: "",
};
