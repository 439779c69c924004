//! Limits as wasmi implements them: timeouts as fuel slices against a clock,
//! start-function hoisting. The limit contract every engine keeps is tested
//! once, in `conformance/src/checks/limits.rs`.

mod common;

use std::time::Duration;

use anywasm_core::{
    Config, ErrorKind, FuncType, Limits, Linker, Resource, Store as _, StoreExt, TrapCode, Val,
};
use common::*;

const BIG_BODY: &str = "      local.get 0 i32.const 0 i32.add local.set 0\n      local.get 0 i32.const 1 i32.add local.set 0\n      local.get 0 i32.const 2 i32.add local.set 0\n      local.get 0 i32.const 3 i32.add local.set 0\n      local.get 0 i32.const 4 i32.add local.set 0\n      local.get 0 i32.const 5 i32.add local.set 0\n      local.get 0 i32.const 6 i32.add local.set 0\n      local.get 0 i32.const 7 i32.add local.set 0\n      local.get 0 i32.const 8 i32.add local.set 0\n      local.get 0 i32.const 9 i32.add local.set 0\n      local.get 0 i32.const 10 i32.add local.set 0\n      local.get 0 i32.const 11 i32.add local.set 0\n      local.get 0 i32.const 12 i32.add local.set 0\n      local.get 0 i32.const 13 i32.add local.set 0\n      local.get 0 i32.const 14 i32.add local.set 0\n      local.get 0 i32.const 15 i32.add local.set 0\n      local.get 0 i32.const 16 i32.add local.set 0\n      local.get 0 i32.const 17 i32.add local.set 0\n      local.get 0 i32.const 18 i32.add local.set 0\n      local.get 0 i32.const 19 i32.add local.set 0\n      local.get 0 i32.const 20 i32.add local.set 0\n      local.get 0 i32.const 21 i32.add local.set 0\n      local.get 0 i32.const 22 i32.add local.set 0\n      local.get 0 i32.const 23 i32.add local.set 0\n      local.get 0 i32.const 24 i32.add local.set 0\n      local.get 0 i32.const 25 i32.add local.set 0\n      local.get 0 i32.const 26 i32.add local.set 0\n      local.get 0 i32.const 27 i32.add local.set 0\n      local.get 0 i32.const 28 i32.add local.set 0\n      local.get 0 i32.const 29 i32.add local.set 0\n      local.get 0 i32.const 30 i32.add local.set 0\n      local.get 0 i32.const 31 i32.add local.set 0\n      local.get 0 i32.const 32 i32.add local.set 0\n      local.get 0 i32.const 33 i32.add local.set 0\n      local.get 0 i32.const 34 i32.add local.set 0\n      local.get 0 i32.const 35 i32.add local.set 0\n      local.get 0 i32.const 36 i32.add local.set 0\n      local.get 0 i32.const 37 i32.add local.set 0\n      local.get 0 i32.const 38 i32.add local.set 0\n      local.get 0 i32.const 39 i32.add local.set 0\n      local.get 0 i32.const 40 i32.add local.set 0\n      local.get 0 i32.const 41 i32.add local.set 0\n      local.get 0 i32.const 42 i32.add local.set 0\n      local.get 0 i32.const 43 i32.add local.set 0\n      local.get 0 i32.const 44 i32.add local.set 0\n      local.get 0 i32.const 45 i32.add local.set 0\n      local.get 0 i32.const 46 i32.add local.set 0\n      local.get 0 i32.const 47 i32.add local.set 0\n      local.get 0 i32.const 48 i32.add local.set 0\n      local.get 0 i32.const 49 i32.add local.set 0\n      local.get 0 i32.const 50 i32.add local.set 0\n      local.get 0 i32.const 51 i32.add local.set 0\n      local.get 0 i32.const 52 i32.add local.set 0\n      local.get 0 i32.const 53 i32.add local.set 0\n      local.get 0 i32.const 54 i32.add local.set 0\n      local.get 0 i32.const 55 i32.add local.set 0\n      local.get 0 i32.const 56 i32.add local.set 0\n      local.get 0 i32.const 57 i32.add local.set 0\n      local.get 0 i32.const 58 i32.add local.set 0\n      local.get 0 i32.const 59 i32.add local.set 0\n      local.get 0 i32.const 60 i32.add local.set 0\n      local.get 0 i32.const 61 i32.add local.set 0\n      local.get 0 i32.const 62 i32.add local.set 0\n      local.get 0 i32.const 63 i32.add local.set 0\n      local.get 0 i32.const 64 i32.add local.set 0\n      local.get 0 i32.const 65 i32.add local.set 0\n      local.get 0 i32.const 66 i32.add local.set 0\n      local.get 0 i32.const 67 i32.add local.set 0\n      local.get 0 i32.const 68 i32.add local.set 0\n      local.get 0 i32.const 69 i32.add local.set 0\n      local.get 0 i32.const 70 i32.add local.set 0\n      local.get 0 i32.const 71 i32.add local.set 0\n      local.get 0 i32.const 72 i32.add local.set 0\n      local.get 0 i32.const 73 i32.add local.set 0\n      local.get 0 i32.const 74 i32.add local.set 0\n      local.get 0 i32.const 75 i32.add local.set 0\n      local.get 0 i32.const 76 i32.add local.set 0\n      local.get 0 i32.const 77 i32.add local.set 0\n      local.get 0 i32.const 78 i32.add local.set 0\n      local.get 0 i32.const 79 i32.add local.set 0\n      local.get 0 i32.const 80 i32.add local.set 0\n      local.get 0 i32.const 81 i32.add local.set 0\n      local.get 0 i32.const 82 i32.add local.set 0\n      local.get 0 i32.const 83 i32.add local.set 0\n      local.get 0 i32.const 84 i32.add local.set 0\n      local.get 0 i32.const 85 i32.add local.set 0\n      local.get 0 i32.const 86 i32.add local.set 0\n      local.get 0 i32.const 87 i32.add local.set 0\n      local.get 0 i32.const 88 i32.add local.set 0\n      local.get 0 i32.const 89 i32.add local.set 0\n      local.get 0 i32.const 90 i32.add local.set 0\n      local.get 0 i32.const 91 i32.add local.set 0\n      local.get 0 i32.const 92 i32.add local.set 0\n      local.get 0 i32.const 93 i32.add local.set 0\n      local.get 0 i32.const 94 i32.add local.set 0\n      local.get 0 i32.const 95 i32.add local.set 0\n      local.get 0 i32.const 96 i32.add local.set 0\n      local.get 0 i32.const 97 i32.add local.set 0\n      local.get 0 i32.const 98 i32.add local.set 0\n      local.get 0 i32.const 99 i32.add local.set 0\n      local.get 0 i32.const 100 i32.add local.set 0\n      local.get 0 i32.const 101 i32.add local.set 0\n      local.get 0 i32.const 102 i32.add local.set 0\n      local.get 0 i32.const 103 i32.add local.set 0\n      local.get 0 i32.const 104 i32.add local.set 0\n      local.get 0 i32.const 105 i32.add local.set 0\n      local.get 0 i32.const 106 i32.add local.set 0\n      local.get 0 i32.const 107 i32.add local.set 0\n      local.get 0 i32.const 108 i32.add local.set 0\n      local.get 0 i32.const 109 i32.add local.set 0\n      local.get 0 i32.const 110 i32.add local.set 0\n      local.get 0 i32.const 111 i32.add local.set 0\n      local.get 0 i32.const 112 i32.add local.set 0\n      local.get 0 i32.const 113 i32.add local.set 0\n      local.get 0 i32.const 114 i32.add local.set 0\n      local.get 0 i32.const 115 i32.add local.set 0\n      local.get 0 i32.const 116 i32.add local.set 0\n      local.get 0 i32.const 117 i32.add local.set 0\n      local.get 0 i32.const 118 i32.add local.set 0\n      local.get 0 i32.const 119 i32.add local.set 0\n      local.get 0 i32.const 120 i32.add local.set 0\n      local.get 0 i32.const 121 i32.add local.set 0\n      local.get 0 i32.const 122 i32.add local.set 0\n      local.get 0 i32.const 123 i32.add local.set 0\n      local.get 0 i32.const 124 i32.add local.set 0\n      local.get 0 i32.const 125 i32.add local.set 0\n      local.get 0 i32.const 126 i32.add local.set 0\n      local.get 0 i32.const 127 i32.add local.set 0\n      local.get 0 i32.const 128 i32.add local.set 0\n      local.get 0 i32.const 129 i32.add local.set 0\n      local.get 0 i32.const 130 i32.add local.set 0\n      local.get 0 i32.const 131 i32.add local.set 0\n      local.get 0 i32.const 132 i32.add local.set 0\n      local.get 0 i32.const 133 i32.add local.set 0\n      local.get 0 i32.const 134 i32.add local.set 0\n      local.get 0 i32.const 135 i32.add local.set 0\n      local.get 0 i32.const 136 i32.add local.set 0\n      local.get 0 i32.const 137 i32.add local.set 0\n      local.get 0 i32.const 138 i32.add local.set 0\n      local.get 0 i32.const 139 i32.add local.set 0\n      local.get 0 i32.const 140 i32.add local.set 0\n      local.get 0 i32.const 141 i32.add local.set 0\n      local.get 0 i32.const 142 i32.add local.set 0\n      local.get 0 i32.const 143 i32.add local.set 0\n      local.get 0 i32.const 144 i32.add local.set 0\n      local.get 0 i32.const 145 i32.add local.set 0\n      local.get 0 i32.const 146 i32.add local.set 0\n      local.get 0 i32.const 147 i32.add local.set 0\n      local.get 0 i32.const 148 i32.add local.set 0\n      local.get 0 i32.const 149 i32.add local.set 0\n      local.get 0 i32.const 150 i32.add local.set 0\n      local.get 0 i32.const 151 i32.add local.set 0\n      local.get 0 i32.const 152 i32.add local.set 0\n      local.get 0 i32.const 153 i32.add local.set 0\n      local.get 0 i32.const 154 i32.add local.set 0\n      local.get 0 i32.const 155 i32.add local.set 0\n      local.get 0 i32.const 156 i32.add local.set 0\n      local.get 0 i32.const 157 i32.add local.set 0\n      local.get 0 i32.const 158 i32.add local.set 0\n      local.get 0 i32.const 159 i32.add local.set 0\n      local.get 0 i32.const 160 i32.add local.set 0\n      local.get 0 i32.const 161 i32.add local.set 0\n      local.get 0 i32.const 162 i32.add local.set 0\n      local.get 0 i32.const 163 i32.add local.set 0\n      local.get 0 i32.const 164 i32.add local.set 0\n      local.get 0 i32.const 165 i32.add local.set 0\n      local.get 0 i32.const 166 i32.add local.set 0\n      local.get 0 i32.const 167 i32.add local.set 0\n      local.get 0 i32.const 168 i32.add local.set 0\n      local.get 0 i32.const 169 i32.add local.set 0\n      local.get 0 i32.const 170 i32.add local.set 0\n      local.get 0 i32.const 171 i32.add local.set 0\n      local.get 0 i32.const 172 i32.add local.set 0\n      local.get 0 i32.const 173 i32.add local.set 0\n      local.get 0 i32.const 174 i32.add local.set 0\n      local.get 0 i32.const 175 i32.add local.set 0\n      local.get 0 i32.const 176 i32.add local.set 0\n      local.get 0 i32.const 177 i32.add local.set 0\n      local.get 0 i32.const 178 i32.add local.set 0\n      local.get 0 i32.const 179 i32.add local.set 0\n      local.get 0 i32.const 180 i32.add local.set 0\n      local.get 0 i32.const 181 i32.add local.set 0\n      local.get 0 i32.const 182 i32.add local.set 0\n      local.get 0 i32.const 183 i32.add local.set 0\n      local.get 0 i32.const 184 i32.add local.set 0\n      local.get 0 i32.const 185 i32.add local.set 0\n      local.get 0 i32.const 186 i32.add local.set 0\n      local.get 0 i32.const 187 i32.add local.set 0\n      local.get 0 i32.const 188 i32.add local.set 0\n      local.get 0 i32.const 189 i32.add local.set 0\n      local.get 0 i32.const 190 i32.add local.set 0\n      local.get 0 i32.const 191 i32.add local.set 0\n      local.get 0 i32.const 192 i32.add local.set 0\n      local.get 0 i32.const 193 i32.add local.set 0\n      local.get 0 i32.const 194 i32.add local.set 0\n      local.get 0 i32.const 195 i32.add local.set 0\n      local.get 0 i32.const 196 i32.add local.set 0\n      local.get 0 i32.const 197 i32.add local.set 0\n      local.get 0 i32.const 198 i32.add local.set 0\n      local.get 0 i32.const 199 i32.add local.set 0\n      local.get 0 i32.const 200 i32.add local.set 0\n      local.get 0 i32.const 201 i32.add local.set 0\n      local.get 0 i32.const 202 i32.add local.set 0\n      local.get 0 i32.const 203 i32.add local.set 0\n      local.get 0 i32.const 204 i32.add local.set 0\n      local.get 0 i32.const 205 i32.add local.set 0\n      local.get 0 i32.const 206 i32.add local.set 0\n      local.get 0 i32.const 207 i32.add local.set 0\n      local.get 0 i32.const 208 i32.add local.set 0\n      local.get 0 i32.const 209 i32.add local.set 0\n      local.get 0 i32.const 210 i32.add local.set 0\n      local.get 0 i32.const 211 i32.add local.set 0\n      local.get 0 i32.const 212 i32.add local.set 0\n      local.get 0 i32.const 213 i32.add local.set 0\n      local.get 0 i32.const 214 i32.add local.set 0\n      local.get 0 i32.const 215 i32.add local.set 0\n      local.get 0 i32.const 216 i32.add local.set 0\n      local.get 0 i32.const 217 i32.add local.set 0\n      local.get 0 i32.const 218 i32.add local.set 0\n      local.get 0 i32.const 219 i32.add local.set 0\n      local.get 0 i32.const 220 i32.add local.set 0\n      local.get 0 i32.const 221 i32.add local.set 0\n      local.get 0 i32.const 222 i32.add local.set 0\n      local.get 0 i32.const 223 i32.add local.set 0\n      local.get 0 i32.const 224 i32.add local.set 0\n      local.get 0 i32.const 225 i32.add local.set 0\n      local.get 0 i32.const 226 i32.add local.set 0\n      local.get 0 i32.const 227 i32.add local.set 0\n      local.get 0 i32.const 228 i32.add local.set 0\n      local.get 0 i32.const 229 i32.add local.set 0\n      local.get 0 i32.const 230 i32.add local.set 0\n      local.get 0 i32.const 231 i32.add local.set 0\n      local.get 0 i32.const 232 i32.add local.set 0\n      local.get 0 i32.const 233 i32.add local.set 0\n      local.get 0 i32.const 234 i32.add local.set 0\n      local.get 0 i32.const 235 i32.add local.set 0\n      local.get 0 i32.const 236 i32.add local.set 0\n      local.get 0 i32.const 237 i32.add local.set 0\n      local.get 0 i32.const 238 i32.add local.set 0\n      local.get 0 i32.const 239 i32.add local.set 0\n      local.get 0 i32.const 240 i32.add local.set 0\n      local.get 0 i32.const 241 i32.add local.set 0\n      local.get 0 i32.const 242 i32.add local.set 0\n      local.get 0 i32.const 243 i32.add local.set 0\n      local.get 0 i32.const 244 i32.add local.set 0\n      local.get 0 i32.const 245 i32.add local.set 0\n      local.get 0 i32.const 246 i32.add local.set 0\n      local.get 0 i32.const 247 i32.add local.set 0\n      local.get 0 i32.const 248 i32.add local.set 0\n      local.get 0 i32.const 249 i32.add local.set 0\n      local.get 0 i32.const 250 i32.add local.set 0\n      local.get 0 i32.const 251 i32.add local.set 0\n      local.get 0 i32.const 252 i32.add local.set 0\n      local.get 0 i32.const 253 i32.add local.set 0\n      local.get 0 i32.const 254 i32.add local.set 0\n      local.get 0 i32.const 255 i32.add local.set 0\n      local.get 0 i32.const 256 i32.add local.set 0\n      local.get 0 i32.const 257 i32.add local.set 0\n      local.get 0 i32.const 258 i32.add local.set 0\n      local.get 0 i32.const 259 i32.add local.set 0\n      local.get 0 i32.const 260 i32.add local.set 0\n      local.get 0 i32.const 261 i32.add local.set 0\n      local.get 0 i32.const 262 i32.add local.set 0\n      local.get 0 i32.const 263 i32.add local.set 0\n      local.get 0 i32.const 264 i32.add local.set 0\n      local.get 0 i32.const 265 i32.add local.set 0\n      local.get 0 i32.const 266 i32.add local.set 0\n      local.get 0 i32.const 267 i32.add local.set 0\n      local.get 0 i32.const 268 i32.add local.set 0\n      local.get 0 i32.const 269 i32.add local.set 0\n      local.get 0 i32.const 270 i32.add local.set 0\n      local.get 0 i32.const 271 i32.add local.set 0\n      local.get 0 i32.const 272 i32.add local.set 0\n      local.get 0 i32.const 273 i32.add local.set 0\n      local.get 0 i32.const 274 i32.add local.set 0\n      local.get 0 i32.const 275 i32.add local.set 0\n      local.get 0 i32.const 276 i32.add local.set 0\n      local.get 0 i32.const 277 i32.add local.set 0\n      local.get 0 i32.const 278 i32.add local.set 0\n      local.get 0 i32.const 279 i32.add local.set 0\n      local.get 0 i32.const 280 i32.add local.set 0\n      local.get 0 i32.const 281 i32.add local.set 0\n      local.get 0 i32.const 282 i32.add local.set 0\n      local.get 0 i32.const 283 i32.add local.set 0\n      local.get 0 i32.const 284 i32.add local.set 0\n      local.get 0 i32.const 285 i32.add local.set 0\n      local.get 0 i32.const 286 i32.add local.set 0\n      local.get 0 i32.const 287 i32.add local.set 0\n      local.get 0 i32.const 288 i32.add local.set 0\n      local.get 0 i32.const 289 i32.add local.set 0\n      local.get 0 i32.const 290 i32.add local.set 0\n      local.get 0 i32.const 291 i32.add local.set 0\n      local.get 0 i32.const 292 i32.add local.set 0\n      local.get 0 i32.const 293 i32.add local.set 0\n      local.get 0 i32.const 294 i32.add local.set 0\n      local.get 0 i32.const 295 i32.add local.set 0\n      local.get 0 i32.const 296 i32.add local.set 0\n      local.get 0 i32.const 297 i32.add local.set 0\n      local.get 0 i32.const 298 i32.add local.set 0\n      local.get 0 i32.const 299 i32.add local.set 0\n      local.get 0 i32.const 300 i32.add local.set 0\n      local.get 0 i32.const 301 i32.add local.set 0\n      local.get 0 i32.const 302 i32.add local.set 0\n      local.get 0 i32.const 303 i32.add local.set 0\n      local.get 0 i32.const 304 i32.add local.set 0\n      local.get 0 i32.const 305 i32.add local.set 0\n      local.get 0 i32.const 306 i32.add local.set 0\n      local.get 0 i32.const 307 i32.add local.set 0\n      local.get 0 i32.const 308 i32.add local.set 0\n      local.get 0 i32.const 309 i32.add local.set 0\n      local.get 0 i32.const 310 i32.add local.set 0\n      local.get 0 i32.const 311 i32.add local.set 0\n      local.get 0 i32.const 312 i32.add local.set 0\n      local.get 0 i32.const 313 i32.add local.set 0\n      local.get 0 i32.const 314 i32.add local.set 0\n      local.get 0 i32.const 315 i32.add local.set 0\n      local.get 0 i32.const 316 i32.add local.set 0\n      local.get 0 i32.const 317 i32.add local.set 0\n      local.get 0 i32.const 318 i32.add local.set 0\n      local.get 0 i32.const 319 i32.add local.set 0\n      local.get 0 i32.const 320 i32.add local.set 0\n      local.get 0 i32.const 321 i32.add local.set 0\n      local.get 0 i32.const 322 i32.add local.set 0\n      local.get 0 i32.const 323 i32.add local.set 0\n      local.get 0 i32.const 324 i32.add local.set 0\n      local.get 0 i32.const 325 i32.add local.set 0\n      local.get 0 i32.const 326 i32.add local.set 0\n      local.get 0 i32.const 327 i32.add local.set 0\n      local.get 0 i32.const 328 i32.add local.set 0\n      local.get 0 i32.const 329 i32.add local.set 0\n      local.get 0 i32.const 330 i32.add local.set 0\n      local.get 0 i32.const 331 i32.add local.set 0\n      local.get 0 i32.const 332 i32.add local.set 0\n      local.get 0 i32.const 333 i32.add local.set 0\n      local.get 0 i32.const 334 i32.add local.set 0\n      local.get 0 i32.const 335 i32.add local.set 0\n      local.get 0 i32.const 336 i32.add local.set 0\n      local.get 0 i32.const 337 i32.add local.set 0\n      local.get 0 i32.const 338 i32.add local.set 0\n      local.get 0 i32.const 339 i32.add local.set 0\n      local.get 0 i32.const 340 i32.add local.set 0\n      local.get 0 i32.const 341 i32.add local.set 0\n      local.get 0 i32.const 342 i32.add local.set 0\n      local.get 0 i32.const 343 i32.add local.set 0\n      local.get 0 i32.const 344 i32.add local.set 0\n      local.get 0 i32.const 345 i32.add local.set 0\n      local.get 0 i32.const 346 i32.add local.set 0\n      local.get 0 i32.const 347 i32.add local.set 0\n      local.get 0 i32.const 348 i32.add local.set 0\n      local.get 0 i32.const 349 i32.add local.set 0\n      local.get 0 i32.const 350 i32.add local.set 0\n      local.get 0 i32.const 351 i32.add local.set 0\n      local.get 0 i32.const 352 i32.add local.set 0\n      local.get 0 i32.const 353 i32.add local.set 0\n      local.get 0 i32.const 354 i32.add local.set 0\n      local.get 0 i32.const 355 i32.add local.set 0\n      local.get 0 i32.const 356 i32.add local.set 0\n      local.get 0 i32.const 357 i32.add local.set 0\n      local.get 0 i32.const 358 i32.add local.set 0\n      local.get 0 i32.const 359 i32.add local.set 0\n      local.get 0 i32.const 360 i32.add local.set 0\n      local.get 0 i32.const 361 i32.add local.set 0\n      local.get 0 i32.const 362 i32.add local.set 0\n      local.get 0 i32.const 363 i32.add local.set 0\n      local.get 0 i32.const 364 i32.add local.set 0\n      local.get 0 i32.const 365 i32.add local.set 0\n      local.get 0 i32.const 366 i32.add local.set 0\n      local.get 0 i32.const 367 i32.add local.set 0\n      local.get 0 i32.const 368 i32.add local.set 0\n      local.get 0 i32.const 369 i32.add local.set 0\n      local.get 0 i32.const 370 i32.add local.set 0\n      local.get 0 i32.const 371 i32.add local.set 0\n      local.get 0 i32.const 372 i32.add local.set 0\n      local.get 0 i32.const 373 i32.add local.set 0\n      local.get 0 i32.const 374 i32.add local.set 0\n      local.get 0 i32.const 375 i32.add local.set 0\n      local.get 0 i32.const 376 i32.add local.set 0\n      local.get 0 i32.const 377 i32.add local.set 0\n      local.get 0 i32.const 378 i32.add local.set 0\n      local.get 0 i32.const 379 i32.add local.set 0\n      local.get 0 i32.const 380 i32.add local.set 0\n      local.get 0 i32.const 381 i32.add local.set 0\n      local.get 0 i32.const 382 i32.add local.set 0\n      local.get 0 i32.const 383 i32.add local.set 0\n      local.get 0 i32.const 384 i32.add local.set 0\n      local.get 0 i32.const 385 i32.add local.set 0\n      local.get 0 i32.const 386 i32.add local.set 0\n      local.get 0 i32.const 387 i32.add local.set 0\n      local.get 0 i32.const 388 i32.add local.set 0\n      local.get 0 i32.const 389 i32.add local.set 0\n      local.get 0 i32.const 390 i32.add local.set 0\n      local.get 0 i32.const 391 i32.add local.set 0\n      local.get 0 i32.const 392 i32.add local.set 0\n      local.get 0 i32.const 393 i32.add local.set 0\n      local.get 0 i32.const 394 i32.add local.set 0\n      local.get 0 i32.const 395 i32.add local.set 0\n      local.get 0 i32.const 396 i32.add local.set 0\n      local.get 0 i32.const 397 i32.add local.set 0\n      local.get 0 i32.const 398 i32.add local.set 0\n      local.get 0 i32.const 399 i32.add local.set 0\n";

#[test]
fn initial_memory_past_limit() {
    let engine = engine(Config::default());
    let module = compile(&engine, "(module (memory 10))");
    let mut store = engine
        .store((), &Limits::new().memory_bytes(65536))
        .unwrap();
    let e = assert_kind(
        store.instantiate(&module, &Linker::new()),
        ErrorKind::LimitExceeded(Resource::Memory),
    );
    assert!(e.message().contains("65536"), "{e}");
    // Store still usable.
    let ok = compile(&engine, "(module (memory 1))");
    store.instantiate(&ok, &Linker::new()).unwrap();
}

const LOOP: &str = r#"
(module
  (func (export "spin") (loop $l (br $l)))
  (func (export "count") (param i32) (result i32)
    (local i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get 0)))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $l)))
    (local.get 1))
)
"#;

#[test]
fn timeout_long_call_within_deadline_completes() {
    // Several fuel slices, well inside the deadline.
    let limits = Limits::new().timeout(Duration::from_secs(60));
    let (mut store, inst) = instance_with(Config::new().timeouts(true), limits, LOOP);
    assert_eq!(
        store
            .call_export(&inst, "count", &[Val::I32(2_000_000)])
            .unwrap(),
        vec![Val::I32(2_000_000)]
    );
}

/// Regression: with a timeout but no fuel budget, wasmi translated functions
/// lazily and charged the translation to the current fuel slice; a function
/// first called near the end of a slice failed the whole call with
/// "ran out of fuel while calling a resumable function" (found by the sieve
/// bench). Functions are now translated eagerly whenever fuel is metered.
#[test]
fn timeout_survives_first_call_at_the_end_of_a_fuel_slice() {
    let wat = r#"
(module
  (func $big (param i32) (result i32)
BODY      local.get 0)
  (func (export "run") (param i32) (result i32) (local i32)
    (block (loop
      local.get 1 local.get 0 i32.ge_u br_if 1
      local.get 1 i32.const 1 i32.add local.set 1
      br 0))
    local.get 1 call $big))
"#
    .replace("BODY", BIG_BODY);
    // A fresh engine each time, so $big is first called (and, lazily,
    // translated) after a different share of the first slice is used.
    for n in (0..40_000).step_by(250) {
        let limits = Limits::new().timeout(Duration::from_secs(60));
        let (mut store, inst) = instance_with(Config::new().timeouts(true), limits, &wat);
        let out = store.call_export(&inst, "run", &[Val::I32(n)]);
        assert!(out.is_ok(), "loop of {n} then first call of $big: {out:?}");
    }
}

#[test]
fn timeout_with_fuel_budget() {
    let config = Config::new().consume_fuel(true).timeouts(true);
    // The budget runs out long before the deadline: OutOfFuel.
    let limits = Limits::new()
        .fuel(1_000_000)
        .timeout(Duration::from_secs(60));
    let (mut store, inst) = instance_with(config.clone(), limits, LOOP);
    assert_trap(store.call_export(&inst, "spin", &[]), TrapCode::OutOfFuel);
    assert!(store.fuel().unwrap() < 100, "{}", store.fuel().unwrap());
    // Fuel reads as the real remaining budget across sliced calls.
    store.set_fuel(5_000_000).unwrap();
    assert_eq!(
        store
            .call_export(&inst, "count", &[Val::I32(300_000)])
            .unwrap(),
        vec![Val::I32(300_000)]
    );
    let left = store.fuel().unwrap();
    assert!(left < 5_000_000 - 300_000 && left > 0, "{left}");

    // Same program and budget with and without a timeout use the same fuel.
    let mut used = Vec::new();
    for limits in [
        Limits::new().fuel(5_000_000),
        Limits::new()
            .fuel(5_000_000)
            .timeout(Duration::from_secs(60)),
    ] {
        let (mut store, inst) = instance_with(config.clone(), limits, LOOP);
        store
            .call_export(&inst, "count", &[Val::I32(300_000)])
            .unwrap();
        used.push(5_000_000 - store.fuel().unwrap());
    }
    assert_eq!(used[0], used[1]);

    // The deadline comes first with a huge budget.
    let limits = Limits::new()
        .fuel(u64::MAX)
        .timeout(Duration::from_millis(100));
    let (mut store, inst) = instance_with(config, limits, LOOP);
    assert_trap(store.call_export(&inst, "spin", &[]), TrapCode::Timeout);
    assert!(store.fuel().unwrap() > u64::MAX / 2);
}

#[test]
fn timeout_without_clock_is_unsupported_only_without_std() {
    // With std the default clock exists, and a custom one can replace it.
    fn frozen() -> Duration {
        Duration::ZERO
    }
    let engine = anywasm_wasmi::Engine::new(&Config::new().timeouts(true))
        .unwrap()
        .with_clock(frozen);
    let module = compile(&engine, LOOP);
    let mut store = engine
        .store((), &Limits::new().timeout(Duration::from_millis(1)))
        .unwrap();
    let inst = store.instantiate(&module, &Linker::new()).unwrap();
    // The clock never advances, so a long loop finishes.
    assert_eq!(
        store
            .call_export(&inst, "count", &[Val::I32(500_000)])
            .unwrap(),
        vec![Val::I32(500_000)]
    );
}

mod start_functions {
    use super::*;
    use anywasm_core::Module as _;

    fn timed_engine() -> anywasm_wasmi::Engine {
        engine(Config::new().timeouts(true).consume_fuel(true))
    }

    #[test]
    fn start_runs_once_and_is_hidden() {
        let engine = timed_engine();
        for wat in [
            // With other exports.
            r#"(module (global $g (export "g") (mut i32) (i32.const 0))
                 (func $s (global.set $g (i32.add (global.get $g) (i32.const 1))))
                 (func (export "f") (result i32) (global.get $g))
                 (start $s))"#,
            // Without an export section.
            r#"(module (global $g (mut i32) (i32.const 0)) (memory 1)
                 (func $s (i32.store (i32.const 0) (i32.const 1))) (start $s))"#,
        ] {
            let module = compile(&engine, wat);
            assert!(module.exports().iter().all(|e| !e.name.contains("anywasm")));
            let mut store = engine
                .store((), &Limits::new().timeout(Duration::from_secs(60)))
                .unwrap();
            let inst = store.instantiate(&module, &Linker::new()).unwrap();
            if module.exports().iter().any(|e| e.name == "g") {
                assert_eq!(store.global_get(&inst, "g").unwrap(), Val::I32(1));
                assert_eq!(
                    store.call_export(&inst, "f", &[]).unwrap(),
                    vec![Val::I32(1)]
                );
            }
            assert_kind(
                store.get_func(&inst, "\u{0}anywasm:start"),
                ErrorKind::ExportNotFound,
            );
        }
    }

    #[test]
    fn start_traps_and_host_start() {
        let engine = timed_engine();
        let module = compile(&engine, "(module (func $s unreachable) (start $s))");
        let mut store = engine.store((), &Limits::new()).unwrap();
        assert_trap(
            store.instantiate(&module, &Linker::new()),
            TrapCode::Unreachable,
        );
        // An imported host function as the start function.
        let module = compile(
            &engine,
            r#"(module (import "env" "init" (func $i)) (start $i))"#,
        );
        let mut linker = Linker::<u32>::new();
        linker.func("env", "init", FuncType::new([], []), |caller, _, _| {
            *caller.data_mut() += 1;
            Ok(())
        });
        let mut store = engine.store(0u32, &Limits::new()).unwrap();
        store.instantiate(&module, &linker).unwrap();
        assert_eq!(*store.data(), 1);
    }

    #[test]
    fn invalid_start_still_rejected() {
        let engine = timed_engine();
        for wat in [
            "(module (func $s (param i32)) (start $s))",
            "(module (func $s (result i32) (i32.const 0)) (start $s))",
        ] {
            let wasm = wat::parse_str(wat).unwrap();
            assert_kind(engine.compile(&wasm), ErrorKind::Compile);
        }
        // Start index out of range (hand-made binary: type, func, start 5, code).
        let wasm = [
            0, 97, 115, 109, 1, 0, 0, 0, // header
            1, 4, 1, 0x60, 0, 0, // type section: [] -> []
            3, 2, 1, 0, // function section
            8, 1, 5, // start section: function 5
            10, 4, 1, 2, 0, 0x0b, // code section
        ];
        assert_kind(engine.compile(&wasm), ErrorKind::Compile);
        // Two start sections.
        let wasm = [
            0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 8, 1, 0, 8, 1, 0, 10, 4,
            1, 2, 0, 0x0b,
        ];
        assert_kind(engine.compile(&wasm), ErrorKind::Compile);
        // The same valid module compiles.
        let wasm = [
            0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 8, 1, 0, 10, 4, 1, 2, 0,
            0x0b,
        ];
        engine.compile(&wasm).unwrap();
    }
}
