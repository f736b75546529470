/**
 * The fonts the page bundles and the @font-face rules for them. Unicode ranges follow @fontsource's own CSS.
 *
 * Why a second Latin family: @fontsource's Noto Sans subsets do not contain U+0306 COMBINING BREVE, which Jrai
 * and Sedang write on top of Ê Ô Ơ Ư (Ư̆, Ơ̆: base + U+0306, no precomposed form). "Kiosk Sans Full" is the
 * complete Noto Sans from Google Fonts (via @expo-google-fonts/noto-sans); it comes second in the font stack, so
 * the browser only loads it for a cluster the subsets cannot draw and then shapes base and mark together in it.
 */
export interface FontFile {
  pkg: string;
  path: string;
  out: string;
  family: string;
  weight: 400 | 700;
  unicodeRange?: string;
}

const LATIN =
  'U+0000-00FF,U+0131,U+0152-0153,U+02BB-02BC,U+02C6,U+02DA,U+02DC,U+0304,U+0308,U+0329,U+2000-206F,U+20AC,U+2122,U+2191,U+2193,U+2212,U+2215,U+FEFF,U+FFFD';
const LATIN_EXT =
  'U+0100-02BA,U+02BD-02C5,U+02C7-02CC,U+02CE-02D7,U+02DD-02FF,U+0304,U+0308,U+0329,U+1D00-1DBF,U+1E00-1E9F,U+1EF2-1EFF,U+2020,U+20A0-20AB,U+20AD-20C0,U+2113,U+2C60-2C7F,U+A720-A7FF';
const VIETNAMESE =
  'U+0102-0103,U+0110-0111,U+0128-0129,U+0168-0169,U+01A0-01A1,U+01AF-01B0,U+0300-0301,U+0303-0304,U+0308-0309,U+0323,U+0329,U+1EA0-1EF9,U+20AB';
const LAO = 'U+0E81-0EDF,U+200C-200D,U+25CC';
const KHMER = 'U+1780-17FF,U+19E0-19FF,U+200C-200D,U+25CC';

const WEIGHTS = [400, 700] as const;

function fontsource(pkg: string, prefix: string, subset: string, family: string, range: string): FontFile[] {
  return WEIGHTS.map((weight) => ({
    pkg,
    path: `files/${prefix}-${subset}-${weight}-normal.woff2`,
    out: `${prefix}-${subset}-${weight}.woff2`,
    family,
    weight,
    unicodeRange: range,
  }));
}

export const FAMILY = {
  sans: 'Kiosk Noto Sans',
  full: 'Kiosk Sans Full',
  lao: 'Kiosk Noto Sans Lao',
  khmer: 'Kiosk Noto Sans Khmer',
} as const;

export const fontFiles: FontFile[] = [
  // Declared in this order on purpose: among faces of one family, the last declared is tried first.
  ...fontsource('@fontsource/noto-sans', 'noto-sans', 'latin', FAMILY.sans, LATIN),
  ...fontsource('@fontsource/noto-sans', 'noto-sans', 'latin-ext', FAMILY.sans, LATIN_EXT),
  ...fontsource('@fontsource/noto-sans', 'noto-sans', 'vietnamese', FAMILY.sans, VIETNAMESE),
  ...fontsource('@fontsource/noto-sans-lao', 'noto-sans-lao', 'lao', FAMILY.lao, LAO),
  ...fontsource('@fontsource/noto-sans-khmer', 'noto-sans-khmer', 'khmer', FAMILY.khmer, KHMER),
  {
    pkg: '@expo-google-fonts/noto-sans',
    path: '400Regular/NotoSans_400Regular.ttf',
    out: 'noto-sans-full-400.ttf',
    family: FAMILY.full,
    weight: 400,
  },
  {
    pkg: '@expo-google-fonts/noto-sans',
    path: '700Bold/NotoSans_700Bold.ttf',
    out: 'noto-sans-full-700.ttf',
    family: FAMILY.full,
    weight: 700,
  },
];

export function fontFaceCss(): string {
  return fontFiles
    .map((font) => {
      const format = font.out.endsWith('.woff2') ? 'woff2' : 'truetype';
      const range = font.unicodeRange ? `\n  unicode-range: ${font.unicodeRange};` : '';
      return `@font-face {\n  font-family: '${font.family}';\n  font-style: normal;\n  font-weight: ${font.weight};\n  font-display: swap;\n  src: url(./fonts/${font.out}) format('${format}');${range}\n}\n`;
    })
    .join('\n');
}
