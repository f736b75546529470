/**
 * The dashboard's base map, with no internet: Natural Earth 1:10m country outlines from the `world-atlas` package,
 * projected once by `d3-geo` into a fixed pixel frame around the province's border area, and the registry's sites
 * with coordinates projected the same way. Natural Earth admin-0 has countries only: the province's outline is not
 * in any package we ship, so `province` is null and the page draws the national borders (Vietnam–Cambodia,
 * Vietnam–Laos) and the sites.
 *
 * The outlines are read and projected on the first request (never at import), then kept: the file is 3.6 MB.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { geoMercator, geoPath } from 'd3-geo';
import { feature, mesh } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import { MapBase } from '../../protocol/api.js';
import type { Database } from '../db/open-database.js';

/** The frame: the Central Highlands' western border, Bờ Y (Kon Tum) to the south of Gia Lai. */
export const MAP_BOUNDS: [[number, number], [number, number]] = [
  [106.9, 12.9],
  [108.9, 15.0],
];
export const MAP_WIDTH = 800;
export const MAP_HEIGHT = 840;

/** ISO 3166 numeric codes (world-atlas feature ids) of the countries drawn. */
const COUNTRIES: Record<string, string> = { '704': 'Vietnam', '116': 'Cambodia', '418': 'Laos' };

interface Outlines {
  countries: MapBase['countries'];
  borders: MapBase['borders'];
  scale: number;
  translate: [number, number];
}

type CountryProps = { name: string };

async function loadOutlines(): Promise<Outlines> {
  const file = createRequire(import.meta.url).resolve('world-atlas/countries-10m.json');
  const topo = JSON.parse(await readFile(file, 'utf8')) as Topology<{ countries: GeometryCollection<CountryProps> }>;
  // The frame's corners as points: d3-geo reads a polygon's winding on the sphere, and a ring wound the other way
  // is the whole world minus the frame (a map fitted to the world, with the province a dot in it).
  const frame = {
    type: 'Feature' as const,
    properties: {},
    geometry: {
      type: 'MultiPoint' as const,
      coordinates: [
        [MAP_BOUNDS[0][0], MAP_BOUNDS[0][1]],
        [MAP_BOUNDS[1][0], MAP_BOUNDS[0][1]],
        [MAP_BOUNDS[1][0], MAP_BOUNDS[1][1]],
        [MAP_BOUNDS[0][0], MAP_BOUNDS[1][1]],
      ],
    },
  };
  const projection = geoMercator().fitSize([MAP_WIDTH, MAP_HEIGHT], frame);
  // Everything outside the frame is cut off, so the paths stay a few kilobytes.
  projection.clipExtent([
    [0, 0],
    [MAP_WIDTH, MAP_HEIGHT],
  ]);
  const path = geoPath(projection);
  const round = (d: string | null) => (d ?? '').replace(/\d+\.\d+/g, (n) => Number(n).toFixed(1));
  const object = topo.objects.countries;
  const countries = object.geometries
    .filter((g) => String(g.id) in COUNTRIES)
    .map((g) => {
      const id = String(g.id);
      return { id, name: COUNTRIES[id] as string, path: round(path(feature(topo, g))) };
    });
  const borders: MapBase['borders'] = [];
  for (const other of ['116', '418']) {
    const line = mesh(topo, object, (a, b) => {
      const ids = [String(a.id), String(b.id)];
      return a !== b && ids.includes('704') && ids.includes(other);
    });
    borders.push({ between: ['Vietnam', COUNTRIES[other] as string], path: round(path(line)) });
  }
  return { countries, borders, scale: projection.scale(), translate: projection.translate() as [number, number] };
}

/** The base map; the outlines are computed on the first call and shared by every later one. */
export function createMapBase(db: Database) {
  let outlines: Promise<Outlines> | null = null;
  const sitesStmt = db.prepare(
    `SELECT id, name, kind, lat, lon, coord_approx AS approx FROM sites WHERE lat IS NOT NULL AND lon IS NOT NULL ORDER BY id`,
  );
  return async (): Promise<MapBase> => {
    outlines ??= loadOutlines().catch((error) => {
      outlines = null;
      throw error;
    });
    const o = await outlines;
    const projection = geoMercator().scale(o.scale).translate(o.translate);
    const rows = sitesStmt.all() as {
      id: string;
      name: string;
      kind: MapBase['sites'][number]['kind'];
      lat: number;
      lon: number;
      approx: number;
    }[];
    // A site at a pole (lat ±90, allowed by the registry) projects to infinity in Mercator: it has no place on
    // this map and is left out of it rather than failing the whole answer.
    const sites = rows.flatMap((r) => {
      const [x, y] = projection([r.lon, r.lat]) as [number, number];
      if (!Number.isFinite(x) || !Number.isFinite(y)) return [];
      return {
        id: r.id,
        name: r.name,
        kind: r.kind,
        x: Math.round(x * 10) / 10,
        y: Math.round(y * 10) / 10,
        approx: r.approx === 1,
      };
    });
    return MapBase.parse({
      width: MAP_WIDTH,
      height: MAP_HEIGHT,
      projection: { kind: 'mercator', scale: o.scale, translate: o.translate },
      bounds: MAP_BOUNDS,
      countries: o.countries,
      borders: o.borders,
      province: null,
      source: 'Natural Earth 1:10m admin-0 (world-atlas 2), public domain; province outline not available',
      sites,
    });
  };
}
