//! The in-process SVG: a layout written for this one picture, in linear-ish time.
//!
//! A general graph layout engine (we used `mermaid-rs-renderer`) spent 0.3 to 1.3 s on six
//! boxes, almost all of it in its edge router, and panicked on some cluster shapes. This
//! picture is simpler than a general graph, so the layout is too:
//!
//! - hosts are clusters, left to right (in rows of a grid when there are many);
//! - a host's nodes stand in columns by their depth in the host's own links, consumers left
//!   and providers right, so most arrows run left to right between neighbouring columns; a
//!   column holds at most a few boxes, then another opens beside it;
//! - an arrow between two columns leaves the side facing its target and passes every column
//!   in between through a gap between that column's boxes (or above or below them);
//! - an arrow between two boxes of one column bows out beside the column (downwards on the
//!   right, upwards on the left), nested by span, in room kept free for it;
//! - each label goes at the first place along its arrow, from the middle outwards, where it
//!   covers no box, no host title and no other label.
//!
//! Text is measured with fixed per-character widths, not the machine's fonts, so the same
//! diagram gives the same bytes everywhere (reviews can be diffed). Every name and label is
//! XML-escaped here: names are validated upstream, but this module does not rely on it.

use crate::{Diagram, Edge};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

const LINE: f64 = 16.0;
const PAD_X: f64 = 10.0;
const PAD_Y: f64 = 7.0;
const MIN_BOX_W: f64 = 110.0;
/// Vertical room between boxes of a column: arrows that pass the column go through it.
const V_GAP: f64 = 30.0;
/// Room between columns of one host, where most labels sit.
const COL_GAP: f64 = 120.0;
/// Room between columns that no arrow touches.
const IDLE_GAP: f64 = 30.0;
const CLUSTER_GAP: f64 = 120.0;
const CLUSTER_PAD: f64 = 18.0;
const CLUSTER_TITLE: f64 = 30.0;
const MARGIN: f64 = 16.0;
/// Boxes in one column before another opens beside it.
const MIN_ROWS: usize = 6;
/// Hosts side by side before they wrap into rows of a grid.
const ONE_ROW_UP_TO: usize = 4;
/// How far an arrow between boxes of one column bows out: the innermost, then per level.
const ARC_BASE: f64 = 18.0;
const ARC_STEP: f64 = 12.0;
const LABEL_H: f64 = 16.0;
/// How much wider bold text (host titles, node names) runs.
const BOLD: f64 = 1.12;
/// Room between arrows that pass a column through the same gap.
const LANE: f64 = 6.0;

/// Width of `s` in the 12 px sans-serif the SVG asks for: fixed estimates per character (a
/// little generous, so text never spills out of its box in real fonts).
fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' | 'I' | '·' => 3.7,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' => 4.5,
            'm' | 'w' | 'M' | 'W' | '@' | '%' => 10.5,
            'A'..='Z' => 8.3,
            _ => 7.0,
        })
        .sum()
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    const ZERO: Rect = Rect {
        x: 0.0,
        y: 0.0,
        w: 0.0,
        h: 0.0,
    };
}

impl Rect {
    fn right(&self) -> f64 {
        self.x + self.w
    }
    fn bottom(&self) -> f64 {
        self.y + self.h
    }
    fn grow(&self, by: f64) -> Rect {
        Rect {
            x: self.x - by,
            y: self.y - by,
            w: self.w + 2.0 * by,
            h: self.h + 2.0 * by,
        }
    }
    /// The area two rectangles share (0 when they only touch).
    fn overlap(&self, o: &Rect) -> f64 {
        let w = self.right().min(o.right()) - self.x.max(o.x);
        let h = self.bottom().min(o.bottom()) - self.y.max(o.y);
        if w > 0.0 && h > 0.0 {
            w * h
        } else {
            0.0
        }
    }
}

type Point = (f64, f64);

/// A piece of an arrow's path.
#[derive(Debug, Clone, Copy)]
enum Seg {
    Line(Point, Point),
    Cubic(Point, Point, Point, Point),
}

impl Seg {
    fn at(&self, t: f64) -> Point {
        match *self {
            Seg::Line(a, b) => (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t),
            Seg::Cubic(a, b, c, d) => {
                let u = 1.0 - t;
                let (k0, k1, k2, k3) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
                (
                    k0 * a.0 + k1 * b.0 + k2 * c.0 + k3 * d.0,
                    k0 * a.1 + k1 * b.1 + k2 * c.1 + k3 * d.1,
                )
            }
        }
    }
}

/// A smooth piece from `a` to `b` that leaves and arrives horizontally.
fn horizontal(a: Point, b: Point) -> Seg {
    let dx = (b.0 - a.0) / 2.0;
    Seg::Cubic(a, (a.0 + dx, a.1), (b.0 - dx, b.1), b)
}

/// A smooth piece from `a` to `b` that leaves and arrives vertically.
fn vertical(a: Point, b: Point) -> Seg {
    let dy = (b.1 - a.1) / 2.0;
    Seg::Cubic(a, (a.0, a.1 + dy), (b.0, b.1 - dy), b)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Side {
    Left,
    Right,
    Top,
    Bottom,
}

/// How an arrow runs.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// Between two boxes of one column, bowing out on `side`, `level` arcs out.
    Arc { side: Side, level: usize },
    /// Between columns of one row of hosts.
    Across,
    /// Between rows of hosts.
    Down,
}

struct Column {
    /// The host (cluster) it belongs to.
    cluster: usize,
    nodes: Vec<usize>,
    w: f64,
    x: f64,
    /// Arcs bowing out on each side, so the layout keeps room for them.
    arcs_left: usize,
    arcs_right: usize,
}

struct Layout {
    boxes: Vec<Rect>,
    clusters: Vec<Rect>,
    /// Per cluster row, its columns left to right (indices into `columns`).
    rows: Vec<Vec<usize>>,
    columns: Vec<Column>,
    /// For each node: its column, and its cluster row.
    col_of: Vec<usize>,
    row_of_cluster: Vec<usize>,
}

/// Draws `d` as a standalone SVG document.
pub(crate) fn draw(d: &Diagram) -> String {
    // Nodes in cluster order, and the cluster of each.
    let mut cluster_of = Vec::new();
    let mut lines = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (c, cl) in d.clusters.iter().enumerate() {
        for n in &cl.nodes {
            index.insert(n.name.as_str(), cluster_of.len());
            cluster_of.push(c);
            lines.push(n.lines());
        }
    }
    // Arrows between two drawn boxes; an edge naming a node that is not drawn is skipped.
    let edges: Vec<(usize, usize, &Edge)> = d
        .edges
        .iter()
        .filter_map(|e| {
            let (a, b) = (*index.get(e.from.as_str())?, *index.get(e.to.as_str())?);
            (a != b).then_some((a, b, e))
        })
        .collect();
    let mut layout = place(d, &cluster_of, &lines, &edges);
    let routes = routes(&mut layout, &edges);
    // Room for the arcs is kept in `place`; now the positions are final.
    let ends = attach(&layout, &edges, &routes);
    // Arrows that pass a column through the same gap are spread apart, one lane each.
    let mut lanes: HashMap<(usize, i64), usize> = HashMap::new();
    let paths: Vec<Vec<Seg>> = edges
        .iter()
        .enumerate()
        .map(|(i, &(a, b, _))| path(&layout, a, b, routes[i], ends[i], &mut lanes))
        .collect();
    let labels = place_labels(d, &layout, &edges, &paths);
    render(d, &layout, &lines, &edges, &paths, &labels)
}

/// Depth of each node in its host's own links: a provider stands right of its consumers.
/// Longest path by relaxation, bounded by the host's size so a cycle cannot loop.
fn ranks(cluster_of: &[usize], sizes: &[usize], edges: &[(usize, usize, &Edge)]) -> Vec<usize> {
    let mut rank = vec![0usize; cluster_of.len()];
    let inner: Vec<(usize, usize)> = edges
        .iter()
        .filter(|(a, b, _)| cluster_of[*a] == cluster_of[*b])
        .map(|&(a, b, _)| (a, b))
        .collect();
    let most = sizes.iter().copied().max().unwrap_or(0);
    for _ in 0..most {
        let mut changed = false;
        for &(a, b) in &inner {
            let want = rank[a] + 1;
            if rank[b] < want && want < sizes[cluster_of[a]] {
                rank[b] = want;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    rank
}

fn box_size(lines: &[String]) -> (f64, f64) {
    let w = lines
        .iter()
        .enumerate()
        .map(|(k, l)| text_width(l) * if k == 0 { BOLD } else { 1.0 })
        .fold(0.0, f64::max)
        + 2.0 * PAD_X;
    (
        w.max(MIN_BOX_W).ceil(),
        lines.len() as f64 * LINE + 2.0 * PAD_Y,
    )
}

/// Columns, arcs' room, then positions.
fn place(
    d: &Diagram,
    cluster_of: &[usize],
    lines: &[Vec<String>],
    edges: &[(usize, usize, &Edge)],
) -> Layout {
    let sizes: Vec<usize> = d.clusters.iter().map(|c| c.nodes.len()).collect();
    let rank = ranks(cluster_of, &sizes, edges);
    let dims: Vec<(f64, f64)> = lines.iter().map(|l| box_size(l)).collect();
    let (mut columns, col_of) = make_columns(&sizes, &rank, &dims);
    let busy = count_arcs(&mut columns, &col_of, edges);
    let n = d.clusters.len();
    let mut cols_of_cluster: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, col) in columns.iter().enumerate() {
        cols_of_cluster[col.cluster].push(i);
    }
    let mut grid = RowLayout {
        d,
        dims: &dims,
        busy: &busy,
        cols_of_cluster: &cols_of_cluster,
        columns,
        boxes: vec![Rect::ZERO; cluster_of.len()],
        clusters: vec![Rect::ZERO; n],
        row_of_cluster: vec![0usize; n],
    };
    // Cluster rows: hosts side by side, in a grid when there are many.
    let per_row = if n <= ONE_ROW_UP_TO {
        n.max(1)
    } else {
        (n as f64).sqrt().ceil() as usize
    };
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut y = MARGIN;
    for (r, members) in (0..n).collect::<Vec<_>>().chunks(per_row).enumerate() {
        let (row_cols, height) = grid.row(r, members, y);
        rows.push(row_cols);
        y += height + CLUSTER_GAP;
    }
    Layout {
        boxes: grid.boxes,
        clusters: grid.clusters,
        rows,
        columns: grid.columns,
        col_of,
        row_of_cluster: grid.row_of_cluster,
    }
}

/// Columns per cluster: nodes of one rank, a few per column; and each node's column.
fn make_columns(sizes: &[usize], rank: &[usize], dims: &[(f64, f64)]) -> (Vec<Column>, Vec<usize>) {
    let mut columns: Vec<Column> = Vec::new();
    let mut col_of = vec![0usize; rank.len()];
    let mut first = 0;
    for (c, &k) in sizes.iter().enumerate() {
        let rows = MIN_ROWS.max((k as f64).sqrt().ceil() as usize);
        let mut by_rank: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (v, &r) in rank.iter().enumerate().skip(first).take(k) {
            by_rank.entry(r).or_default().push(v);
        }
        for members in by_rank.into_values() {
            for chunk in members.chunks(rows) {
                for &v in chunk {
                    col_of[v] = columns.len();
                }
                columns.push(Column {
                    cluster: c,
                    nodes: chunk.to_vec(),
                    w: chunk.iter().map(|&v| dims[v].0).fold(0.0, f64::max),
                    x: 0.0,
                    arcs_left: 0,
                    arcs_right: 0,
                });
            }
        }
        first += k;
    }
    (columns, col_of)
}

/// Counts the arcs (an arrow between two boxes of one column) on each side of each column;
/// returns which columns an arrow touches (the others stand close together: a summary's idle
/// hosts).
fn count_arcs(
    columns: &mut [Column],
    col_of: &[usize],
    edges: &[(usize, usize, &Edge)],
) -> Vec<bool> {
    let mut busy = vec![false; columns.len()];
    for &(a, b, _) in edges {
        busy[col_of[a]] = true;
        busy[col_of[b]] = true;
        if col_of[a] == col_of[b] {
            let col = &mut columns[col_of[a]];
            if position(&col.nodes, a) < position(&col.nodes, b) {
                col.arcs_right += 1;
            } else {
                col.arcs_left += 1;
            }
        }
    }
    busy
}

/// The room arcs need beside a column.
fn arc_room(arcs: usize) -> f64 {
    if arcs == 0 {
        0.0
    } else {
        ARC_BASE + ARC_STEP * arcs as f64
    }
}

/// The layout being built, a cluster row at a time.
struct RowLayout<'a> {
    d: &'a Diagram,
    dims: &'a [(f64, f64)],
    busy: &'a [bool],
    cols_of_cluster: &'a [Vec<usize>],
    columns: Vec<Column>,
    boxes: Vec<Rect>,
    clusters: Vec<Rect>,
    row_of_cluster: Vec<usize>,
}

impl RowLayout<'_> {
    /// The content height of a column: its boxes stacked.
    fn col_h(&self, col: &Column) -> f64 {
        col.nodes.iter().map(|&v| self.dims[v].1).sum::<f64>()
            + V_GAP * col.nodes.len().saturating_sub(1) as f64
    }

    /// Lays out row `r` (its clusters side by side) at height `y`: its columns left to right,
    /// and its height.
    fn row(&mut self, r: usize, members: &[usize], y: f64) -> (Vec<usize>, f64) {
        // Content height: the tallest column of the row.
        let content = members
            .iter()
            .flat_map(|&c| self.cols_of_cluster[c].iter())
            .map(|&i| self.col_h(&self.columns[i]))
            .fold(0.0, f64::max);
        let mut row_cols = Vec::new();
        let mut x = MARGIN;
        for &c in members {
            self.row_of_cluster[c] = r;
            let w = self.cluster(c, x, y, content);
            row_cols.extend(self.cols_of_cluster[c].iter().copied());
            x += w + CLUSTER_GAP;
        }
        (row_cols, CLUSTER_TITLE + content + CLUSTER_PAD)
    }

    /// Places cluster `c` with its left edge at `x`: its columns, its boxes centred in the
    /// row's content band; returns its width.
    fn cluster(&mut self, c: usize, x: f64, y: f64, content: f64) -> f64 {
        let cols = &self.cols_of_cluster[c];
        let columns = &mut self.columns;
        let left = CLUSTER_PAD.max(
            cols.first()
                .map_or(0.0, |&i| arc_room(columns[i].arcs_left)),
        );
        let mut inner = x + left;
        for (k, &i) in cols.iter().enumerate() {
            columns[i].x = inner;
            inner += columns[i].w;
            if let Some(&next) = cols.get(k + 1) {
                inner += if !self.busy[i] && !self.busy[next] {
                    IDLE_GAP
                } else {
                    COL_GAP
                }
                .max(arc_room(columns[i].arcs_right) + arc_room(columns[next].arcs_left) + 30.0);
            }
        }
        let right = CLUSTER_PAD.max(
            cols.last()
                .map_or(0.0, |&i| arc_room(columns[i].arcs_right)),
        );
        let title = text_width(&cluster_title(self.d, c)) * BOLD + 2.0 * CLUSTER_PAD;
        let w = (inner + right - x)
            .max(title)
            .max(MIN_BOX_W + 2.0 * CLUSTER_PAD);
        self.clusters[c] = Rect {
            x,
            y,
            w,
            h: CLUSTER_TITLE + content + CLUSTER_PAD,
        };
        for &i in cols {
            let col = &self.columns[i];
            let mut top = y + CLUSTER_TITLE + (content - self.col_h(col)) / 2.0;
            for &v in &col.nodes {
                let (bw, bh) = self.dims[v];
                self.boxes[v] = Rect {
                    x: col.x + (col.w - bw) / 2.0,
                    y: top,
                    w: bw,
                    h: bh,
                };
                top += bh + V_GAP;
            }
        }
        w
    }
}

fn position(members: &[usize], v: usize) -> usize {
    members.iter().position(|&m| m == v).unwrap_or(0)
}

fn cluster_title(d: &Diagram, c: usize) -> String {
    format!("{} · {}", d.clusters[c].host, d.clusters[c].address)
}

/// How each arrow runs; arcs of one column side are nested by span, shortest innermost.
fn routes(l: &mut Layout, edges: &[(usize, usize, &Edge)]) -> Vec<Route> {
    let mut arcs: BTreeMap<(usize, Side), Vec<(f64, usize)>> = BTreeMap::new();
    let mut out: Vec<Route> = edges
        .iter()
        .enumerate()
        .map(|(i, &(a, b, _))| {
            let (ca, cb) = (l.col_of[a], l.col_of[b]);
            if ca == cb {
                let (ya, yb) = (l.boxes[a].y, l.boxes[b].y);
                let side = if ya < yb { Side::Right } else { Side::Left };
                arcs.entry((ca, side))
                    .or_default()
                    .push(((ya - yb).abs(), i));
                Route::Arc { side, level: 0 }
            } else if l.row_of_cluster[l.columns[ca].cluster]
                == l.row_of_cluster[l.columns[cb].cluster]
            {
                Route::Across
            } else {
                Route::Down
            }
        })
        .collect();
    for list in arcs.values_mut() {
        list.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        for (level, &(_, i)) in list.iter().enumerate() {
            if let Route::Arc { side, .. } = out[i] {
                out[i] = Route::Arc { side, level };
            }
        }
    }
    out
}

/// The sides each arrow leaves and enters by.
fn sides(l: &Layout, a: usize, b: usize, route: Route) -> (Side, Side) {
    match route {
        Route::Arc { side, .. } => (side, side),
        Route::Across => {
            if l.boxes[b].x > l.boxes[a].x {
                (Side::Right, Side::Left)
            } else {
                (Side::Left, Side::Right)
            }
        }
        Route::Down => {
            if l.boxes[b].y > l.boxes[a].y {
                (Side::Bottom, Side::Top)
            } else {
                (Side::Top, Side::Bottom)
            }
        }
    }
}

/// Where each arrow meets its boxes: the arrows on one side of a box are spread along it,
/// in the order of the boxes at their other ends, so they do not cross at the box.
fn attach(l: &Layout, edges: &[(usize, usize, &Edge)], routes: &[Route]) -> Vec<(Point, Point)> {
    // (box, side) -> [(other end's coordinate along the side, edge, is the source end)]
    type Ends = Vec<(f64, usize, bool)>;
    let mut at: BTreeMap<(usize, Side), Ends> = BTreeMap::new();
    for (i, &(a, b, _)) in edges.iter().enumerate() {
        let (sa, sb) = sides(l, a, b, routes[i]);
        let along = |v: usize, s: Side| match s {
            Side::Left | Side::Right => l.boxes[v].y + l.boxes[v].h / 2.0,
            Side::Top | Side::Bottom => l.boxes[v].x + l.boxes[v].w / 2.0,
        };
        at.entry((a, sa)).or_default().push((along(b, sa), i, true));
        at.entry((b, sb))
            .or_default()
            .push((along(a, sb), i, false));
    }
    let mut ends = vec![((0.0, 0.0), (0.0, 0.0)); edges.len()];
    for ((v, side), mut list) in at {
        list.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        let r = l.boxes[v];
        let k = list.len() as f64;
        for (j, &(_, i, source)) in list.iter().enumerate() {
            let f = (j as f64 + 1.0) / (k + 1.0);
            let p = match side {
                Side::Left => (r.x, r.y + r.h * f),
                Side::Right => (r.right(), r.y + r.h * f),
                Side::Top => (r.x + r.w * f, r.y),
                Side::Bottom => (r.x + r.w * f, r.bottom()),
            };
            if source {
                ends[i].0 = p;
            } else {
                ends[i].1 = p;
            }
        }
    }
    ends
}

/// The pieces of one arrow.
fn path(
    l: &Layout,
    a: usize,
    b: usize,
    route: Route,
    (p, q): (Point, Point),
    lanes: &mut HashMap<(usize, i64), usize>,
) -> Vec<Seg> {
    match route {
        Route::Arc { side, level } => {
            let sign = if side == Side::Right { 1.0 } else { -1.0 };
            // A cubic whose control points stand out by 4/3 of the bulge peaks at the bulge.
            let out = sign * (ARC_BASE + ARC_STEP * level as f64) * 4.0 / 3.0;
            vec![Seg::Cubic(p, (p.0 + out, p.1), (q.0 + out, q.1), q)]
        }
        Route::Down => vec![vertical(p, q)],
        Route::Across => {
            // Every column strictly between the two, in the direction of travel.
            let row = &l.rows[l.row_of_cluster[l.columns[l.col_of[a]].cluster]];
            let (ia, ib) = (position(row, l.col_of[a]), position(row, l.col_of[b]));
            let between: Vec<usize> = if ia < ib {
                row[ia + 1..ib].to_vec()
            } else {
                row[ib + 1..ia].iter().rev().copied().collect()
            };
            let mut points = vec![p];
            let mut straight = Vec::new();
            for c in between {
                let col = &l.columns[c];
                let mid = col.x + col.w / 2.0;
                let t = (mid - p.0) / (q.0 - p.0);
                let ideal = p.1 + (q.1 - p.1) * t;
                let mut y = through(l, col, ideal);
                if y != ideal {
                    // The k-th arrow through this gap: 0, +6, -6, +12, ...
                    let k = lanes.entry((c, y.round() as i64)).or_insert(0);
                    let step = ((*k as f64 / 2.0).ceil() * LANE).min(V_GAP / 2.0 - 3.0);
                    y += if *k % 2 == 1 { step } else { -step };
                    *k += 1;
                }
                let (x0, x1) = if ia < ib {
                    (col.x - 6.0, col.x + col.w + 6.0)
                } else {
                    (col.x + col.w + 6.0, col.x - 6.0)
                };
                points.push((x0, y));
                straight.push(points.len());
                points.push((x1, y));
            }
            points.push(q);
            points
                .windows(2)
                .enumerate()
                .map(|(k, w)| {
                    if straight.contains(&(k + 1)) {
                        Seg::Line(w[0], w[1])
                    } else {
                        horizontal(w[0], w[1])
                    }
                })
                .collect()
        }
    }
}

/// The height at which an arrow passes `col`: `ideal` if no box is there, else the middle of
/// the nearest gap between its boxes (or above or below them).
fn through(l: &Layout, col: &Column, ideal: f64) -> f64 {
    let rects: Vec<Rect> = col.nodes.iter().map(|&v| l.boxes[v]).collect();
    if !rects
        .iter()
        .any(|r| ideal > r.y - 6.0 && ideal < r.bottom() + 6.0)
    {
        return ideal;
    }
    let mut gaps = vec![rects[0].y - V_GAP / 2.0];
    gaps.extend(rects.windows(2).map(|w| (w[0].bottom() + w[1].y) / 2.0));
    gaps.push(rects[rects.len() - 1].bottom() + V_GAP / 2.0);
    gaps.into_iter()
        .min_by(|x, y| (x - ideal).abs().total_cmp(&(y - ideal).abs()))
        .unwrap_or(ideal)
}

/// Each label at the first place along its arrow, from the middle outwards, where it covers
/// nothing; where every place covers something, the one that covers least.
fn place_labels(
    d: &Diagram,
    l: &Layout,
    edges: &[(usize, usize, &Edge)],
    paths: &[Vec<Seg>],
) -> Vec<Rect> {
    let mut obstacles = Grid::default();
    for r in &l.boxes {
        obstacles.insert(r.grow(3.0));
    }
    for (c, r) in l.clusters.iter().enumerate() {
        let title = text_width(&cluster_title(d, c)) * BOLD + 2.0 * CLUSTER_PAD;
        obstacles.insert(Rect {
            x: r.x,
            y: r.y,
            w: title.min(r.w),
            h: CLUSTER_TITLE - 4.0,
        });
    }
    // Labels of short arrows first: they have the fewest places to go.
    let mut order: Vec<usize> = (0..edges.len()).collect();
    order.sort_by_key(|&i| paths[i].len());
    let mut out = vec![
        Rect {
            x: 0.0,
            y: 0.0,
            w: 0.0,
            h: 0.0
        };
        edges.len()
    ];
    const STEPS: usize = 16;
    for i in order {
        let w = text_width(&edges[i].2.label()) + 8.0;
        let segs = &paths[i];
        let total = segs.len() * STEPS;
        // Sample positions from the middle of the arrow outwards.
        let mut samples: Vec<usize> = (0..total).collect();
        let mid = total as f64 / 2.0;
        samples.sort_by(|&x, &y| {
            (x as f64 + 0.5 - mid)
                .abs()
                .total_cmp(&(y as f64 + 0.5 - mid).abs())
                .then(x.cmp(&y))
        });
        let mut best: Option<(f64, Rect)> = None;
        for s in samples {
            let seg = &segs[s / STEPS];
            let t = ((s % STEPS) as f64 + 0.5) / STEPS as f64;
            let (x, y) = seg.at(t);
            let r = Rect {
                x: x - w / 2.0,
                y: y - LABEL_H / 2.0,
                w,
                h: LABEL_H,
            };
            let cost = obstacles.cover(&r);
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, r));
            }
            if cost == 0.0 {
                break;
            }
        }
        if let Some((_, r)) = best {
            out[i] = r;
            obstacles.insert(r.grow(1.0));
        }
    }
    out
}

/// Rectangles bucketed by the cells of a coarse grid they touch, so the area a new label
/// would cover is summed over its neighbours only: placing thousands of labels stays linear.
#[derive(Default)]
struct Grid {
    rects: Vec<Rect>,
    cells: HashMap<(i64, i64), Vec<usize>>,
}

impl Grid {
    const CELL: f64 = 96.0;

    fn cells_of(r: &Rect) -> impl Iterator<Item = (i64, i64)> {
        let (x0, x1) = (
            (r.x / Self::CELL).floor() as i64,
            (r.right() / Self::CELL).floor() as i64,
        );
        let (y0, y1) = (
            (r.y / Self::CELL).floor() as i64,
            (r.bottom() / Self::CELL).floor() as i64,
        );
        (x0..=x1).flat_map(move |x| (y0..=y1).map(move |y| (x, y)))
    }

    fn insert(&mut self, r: Rect) {
        let i = self.rects.len();
        self.rects.push(r);
        for c in Self::cells_of(&r) {
            self.cells.entry(c).or_default().push(i);
        }
    }

    /// The area of `r` that the rectangles already here cover (each counted once).
    fn cover(&self, r: &Rect) -> f64 {
        let mut seen: Vec<usize> = Vec::new();
        let mut sum = 0.0;
        for c in Self::cells_of(r) {
            for &i in self.cells.get(&c).into_iter().flatten() {
                if !seen.contains(&i) {
                    seen.push(i);
                    sum += self.rects[i].overlap(r);
                }
            }
        }
        sum
    }
}

/// The one XML escaper ([`topoplan_model::xml::escape`]).
use topoplan_model::xml::escape as xml;

fn path_data(segs: &[Seg]) -> String {
    let mut s = String::new();
    for (k, seg) in segs.iter().enumerate() {
        let start = match *seg {
            Seg::Line(a, _) | Seg::Cubic(a, ..) => a,
        };
        if k == 0 {
            let _ = write!(s, "M{:.1},{:.1}", start.0, start.1);
        }
        match *seg {
            Seg::Line(_, b) => {
                let _ = write!(s, " L{:.1},{:.1}", b.0, b.1);
            }
            Seg::Cubic(_, c1, c2, b) => {
                let _ = write!(
                    s,
                    " C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}",
                    c1.0, c1.1, c2.0, c2.1, b.0, b.1
                );
            }
        }
    }
    s
}

/// The arrowhead at the end of an arrow, as its own triangle (no `<marker>`: a review page
/// is self-contained and may hold more than one drawing, and marker ids would clash).
fn arrowhead(segs: &[Seg]) -> String {
    let Some(last) = segs.last() else {
        return String::new();
    };
    let (from, tip) = match *last {
        Seg::Line(a, b) => (a, b),
        Seg::Cubic(_, _, c, b) if c != b => (c, b),
        Seg::Cubic(a, _, _, b) => (a, b),
    };
    let (dx, dy) = (tip.0 - from.0, tip.1 - from.1);
    let len = (dx * dx + dy * dy).sqrt().max(f64::EPSILON);
    let (ux, uy) = (dx / len, dy / len);
    let (bx, by) = (tip.0 - 9.0 * ux, tip.1 - 9.0 * uy);
    format!(
        "M{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} z",
        tip.0,
        tip.1,
        bx - 4.0 * uy,
        by + 4.0 * ux,
        bx + 4.0 * uy,
        by - 4.0 * ux
    )
}

fn render(
    d: &Diagram,
    l: &Layout,
    lines: &[Vec<String>],
    edges: &[(usize, usize, &Edge)],
    paths: &[Vec<Seg>],
    labels: &[Rect],
) -> String {
    let (x0, y0, w, h) = extent(l, labels);
    let mut s = String::with_capacity(4096 + 600 * (l.boxes.len() + edges.len()));
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"topoplan-diagram\" width=\"{w}\" height=\"{h}\" viewBox=\"{:.0} {:.0} {w} {h}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"{}\">",
        x0.floor(),
        y0.floor(),
        xml(&format!("deployment {}", d.title))
    );
    let _ = writeln!(
        s,
        "<title>{}</title>",
        xml(&format!("deployment {}", d.title))
    );
    for (c, r) in l.clusters.iter().enumerate() {
        let _ = writeln!(
            s,
            "<g class=\"host\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"8\" fill=\"#f1f5f9\" stroke=\"#cbd5e1\"/><text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\" fill=\"#334155\">{}</text></g>",
            r.x,
            r.y,
            r.w,
            r.h,
            r.x + CLUSTER_PAD,
            r.y + 19.0,
            xml(&cluster_title(d, c))
        );
    }
    for (i, (a, b, e)) in edges.iter().enumerate() {
        let colour = d.colour(&e.kind);
        let _ = writeln!(
            s,
            "<g class=\"edge\"><title>{}</title><path d=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\"/><path d=\"{}\" fill=\"{c}\"/></g>",
            xml(&format!(
                "{} → {}: {}",
                lines[*a][0],
                lines[*b][0],
                e.label()
            )),
            path_data(&paths[i]),
            arrowhead(&paths[i]),
            c = xml(colour),
        );
    }
    for (v, r) in l.boxes.iter().enumerate() {
        node_box(&mut s, r, &lines[v]);
    }
    for (i, (_, _, e)) in edges.iter().enumerate() {
        let r = labels[i];
        let colour = d.colour(&e.kind);
        let _ = writeln!(
            s,
            "<g class=\"label\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.9\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{}\">{}</text></g>",
            r.x,
            r.y,
            r.w,
            r.h,
            r.x + r.w / 2.0,
            r.y + 12.0,
            xml(colour),
            xml(&e.label())
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The picture's extent, every cluster, box and label with a margin: its top left corner and
/// its width and height.
fn extent(l: &Layout, labels: &[Rect]) -> (f64, f64, f64, f64) {
    let all = l
        .clusters
        .iter()
        .chain(&l.boxes)
        .chain(labels.iter().filter(|r| r.w > 0.0));
    let (mut x0, mut y0, mut x1, mut y1) = (0.0f64, 0.0f64, 2.0 * MARGIN, 2.0 * MARGIN);
    for r in all {
        x0 = x0.min(r.x - MARGIN);
        y0 = y0.min(r.y - MARGIN);
        x1 = x1.max(r.right() + MARGIN);
        y1 = y1.max(r.bottom() + MARGIN);
    }
    (x0, y0, (x1 - x0).ceil(), (y1 - y0).ceil())
}

/// One node's box: its lines, the first (its name) bold.
fn node_box(s: &mut String, r: &Rect, lines: &[String]) {
    let _ = write!(
        s,
        "<g class=\"node\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"5\" fill=\"#ffffff\" stroke=\"#94a3b8\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#0f172a\">",
        r.x,
        r.y,
        r.w,
        r.h,
        r.x + r.w / 2.0,
        r.y + PAD_Y + 12.0,
    );
    for (k, line) in lines.iter().enumerate() {
        let _ = write!(
            s,
            "<tspan x=\"{:.1}\" dy=\"{}\"{}>{}</tspan>",
            r.x + r.w / 2.0,
            if k == 0 { 0.0 } else { LINE },
            if k == 0 { " font-weight=\"bold\"" } else { "" },
            xml(line)
        );
    }
    s.push_str("</text></g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_markup_out_of_text() {
        assert_eq!(xml("a<b>&\"'\u{7}"), "a&lt;b&gt;&amp;&quot;&apos;\u{FFFD}");
    }

    #[test]
    fn rectangles_overlap_only_when_they_share_area() {
        let a = Rect {
            x: 0.0,
            y: 0.0,
            w: 10.0,
            h: 10.0,
        };
        let touching = Rect { x: 10.0, ..a };
        let crossing = Rect {
            x: 5.0,
            y: 5.0,
            ..a
        };
        assert_eq!(a.overlap(&touching), 0.0);
        assert_eq!(a.overlap(&crossing), 25.0);
    }
}
