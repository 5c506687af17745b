#!/bin/bash
# Regenerates tests/data/hw/*: procfs/sysfs trees in the shape of real machines (only the files
# the readers need). Run from the crate root. Never touches anything outside tests/data/hw.
set -e
F=tests/data/hw
rm -rf $F/dual-xeon $F/rpi4 $F/ryzen-desktop $F/laptop-battery $F/vm; mkdir -p $F
w() { mkdir -p "$(dirname "$1")"; printf '%s\n' "$2" > "$1"; }
topo() { # root cpu pkg core siblings
  local d=$1/sys/devices/system/cpu/cpu$2/topology
  w $d/physical_package_id $3; w $d/core_id $4; w $d/thread_siblings_list "$5"
  w $d/core_siblings_list "$6"
}
x86block() { # n model physid coreid siblings cores apicid
cat <<B
processor	: $1
vendor_id	: $8
cpu family	: $9
model		: ${10}
model name	: $2
stepping	: 1
microcode	: 0xb000040
cpu MHz		: 1200.000
cache size	: 25600 KB
physical id	: $3
siblings	: $5
core id		: $4
cpu cores	: $6
apicid		: $7
initial apicid	: $7
fpu		: yes
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm constant_tsc rep_good nopl xtopology cpuid pni ssse3 fma cx16 sse4_1 sse4_2 popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm avx2 bmi1 bmi2
bogomips	: 6400.00
clflush size	: 64
cache_alignment	: 64
address sizes	: 46 bits physical, 48 bits virtual
power management:

B
}

# 1. dual-xeon: 2 x E5-2667 v4 (8C/16T each). Linux numbering: 0-7 pkg0, 8-15 pkg1, 16-31 siblings.
R=$F/dual-xeon
M="Intel(R) Xeon(R) CPU E5-2667 v4 @ 3.20GHz"
CORES=(0 1 2 3 8 9 10 11)
: > $F/.cpuinfo.tmp
for cpu in $(seq 0 31); do
  pkg=$(( (cpu / 8) % 2 )); idx=$((cpu % 8)); core=${CORES[$idx]}
  if [ $cpu -lt 16 ]; then sib="$cpu,$((cpu+16))"; else sib="$((cpu-16)),$cpu"; fi
  if [ $pkg = 0 ]; then cs="0-7,16-23"; else cs="8-15,24-31"; fi
  topo $R $cpu $pkg $core "$sib" "$cs"
  x86block $cpu "$M" $pkg $core 16 8 $((pkg*32 + core*2 + cpu/16)) GenuineIntel 6 79 >> $F/.cpuinfo.tmp
done
mkdir -p $R/proc; cp $F/.cpuinfo.tmp $R/proc/cpuinfo
w $R/sys/devices/system/cpu/online "0-31"
w $R/sys/devices/system/cpu/possible "0-31"
w $R/sys/devices/system/node/node0/cpulist "0-7,16-23"
w $R/sys/devices/system/node/node1/cpulist "8-15,24-31"
w $R/sys/devices/system/node/online "0-1"
for p in 0 1; do
  H=$R/sys/class/hwmon/hwmon$p
  w $H/name coretemp
  w $H/temp1_label "Package id $p"; w $H/temp1_input $((45000 + p*7000)); w $H/temp1_max 87000; w $H/temp1_crit 97000
  for c in "${CORES[@]}"; do
    w $H/temp$((c+2))_label "Core $c"; w $H/temp$((c+2))_input $((41000 + p*7000 + c*500)); w $H/temp$((c+2))_crit 97000
  done
done

# 2. rpi4: BCM2711, 4 x Cortex-A72, 64-bit kernel.
R=$F/rpi4
mkdir -p $R/proc
{ for cpu in 0 1 2 3; do cat <<B
processor	: $cpu
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x0
CPU part	: 0xd08
CPU revision	: 3

B
done
cat <<B
Hardware	: BCM2835
Revision	: d03114
Serial		: 10000000a1b2c3d4
Model		: Raspberry Pi 4 Model B Rev 1.4
B
} > $R/proc/cpuinfo
w $R/sys/devices/system/cpu/online "0-3"
for cpu in 0 1 2 3; do topo $R $cpu 0 $cpu "$cpu" "0-3"; done
w $R/sys/class/thermal/thermal_zone0/type cpu-thermal
w $R/sys/class/thermal/thermal_zone0/temp 48686
w $R/sys/class/thermal/thermal_zone0/policy step_wise
w $R/sys/class/hwmon/hwmon0/name cpu_thermal
w $R/sys/class/hwmon/hwmon0/temp1_input 48686
w $R/sys/class/hwmon/hwmon1/name rpi_volt
w $R/sys/class/hwmon/hwmon1/in0_lcrit_alarm 0

# 3. ryzen-desktop: Ryzen 9 5900X, 2 CCDs (core ids 0-5, 8-13), SMT siblings i / i+12.
R=$F/ryzen-desktop
M="AMD Ryzen 9 5900X 12-Core Processor"
CORES=(0 1 2 3 4 5 8 9 10 11 12 13)
: > $F/.cpuinfo.tmp
for cpu in $(seq 0 23); do
  idx=$((cpu % 12)); core=${CORES[$idx]}
  if [ $cpu -lt 12 ]; then sib="$cpu,$((cpu+12))"; else sib="$((cpu-12)),$cpu"; fi
  topo $R $cpu 0 $core "$sib" "0-23"
  x86block $cpu "$M" 0 $core 24 12 $((core*2 + cpu/12)) AuthenticAMD 25 33 >> $F/.cpuinfo.tmp
done
mkdir -p $R/proc; cp $F/.cpuinfo.tmp $R/proc/cpuinfo
w $R/sys/devices/system/cpu/online "0-23"
w $R/sys/devices/system/node/node0/cpulist "0-23"
w $R/sys/class/hwmon/hwmon0/name nvme
w $R/sys/class/hwmon/hwmon0/temp1_label Composite
w $R/sys/class/hwmon/hwmon0/temp1_input 38850
w $R/sys/class/hwmon/hwmon1/name acpitz
w $R/sys/class/hwmon/hwmon1/temp1_input 16800
w $R/sys/class/hwmon/hwmon2/name k10temp
w $R/sys/class/hwmon/hwmon2/temp1_label Tctl
w $R/sys/class/hwmon/hwmon2/temp1_input 61250
w $R/sys/class/hwmon/hwmon2/temp3_label Tccd1
w $R/sys/class/hwmon/hwmon2/temp3_input 58500
w $R/sys/class/hwmon/hwmon2/temp4_label Tccd2
w $R/sys/class/hwmon/hwmon2/temp4_input 55750
w $R/sys/class/thermal/thermal_zone0/type acpitz
w $R/sys/class/thermal/thermal_zone0/temp 16800
# A wireless mouse: a battery, discharging, but a peripheral's (scope Device).
P=$R/sys/class/power_supply/hidpp_battery_0
w $P/type Battery; w $P/scope Device; w $P/status Discharging; w $P/capacity 70; w $P/online 1
w $P/model_name "G305 Lightspeed Wireless Gaming Mouse"

# 4. laptop-battery: Core i7-8565U (4C/8T), unplugged.
R=$F/laptop-battery
M="Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz"
: > $F/.cpuinfo.tmp
for cpu in $(seq 0 7); do
  core=$((cpu % 4)); if [ $cpu -lt 4 ]; then sib="$cpu,$((cpu+4))"; else sib="$((cpu-4)),$cpu"; fi
  topo $R $cpu 0 $core "$sib" "0-7"
  x86block $cpu "$M" 0 $core 8 4 $((core*2 + cpu/4)) GenuineIntel 6 142 >> $F/.cpuinfo.tmp
done
mkdir -p $R/proc; cp $F/.cpuinfo.tmp $R/proc/cpuinfo
w $R/sys/devices/system/cpu/online "0-7"
w $R/sys/devices/system/node/node0/cpulist "0-7"
w $R/sys/class/hwmon/hwmon0/name acpitz
w $R/sys/class/hwmon/hwmon0/temp1_input 47000
w $R/sys/class/hwmon/hwmon2/name pch_cannonlake
w $R/sys/class/hwmon/hwmon2/temp1_input 44000
H=$R/sys/class/hwmon/hwmon4
w $H/name coretemp
w $H/temp1_label "Package id 0"; w $H/temp1_input 67000; w $H/temp1_crit 100000
for c in 0 1 2 3; do w $H/temp$((c+2))_label "Core $c"; w $H/temp$((c+2))_input $((62000 + c*1000)); done
w $R/sys/class/hwmon/hwmon5/name iwlwifi_1
w $R/sys/class/hwmon/hwmon5/temp1_input 41000
w $R/sys/class/thermal/thermal_zone0/type acpitz
w $R/sys/class/thermal/thermal_zone0/temp 47000
w $R/sys/class/thermal/thermal_zone1/type pch_cannonlake
w $R/sys/class/thermal/thermal_zone1/temp 44000
w $R/sys/class/thermal/thermal_zone2/type iwlwifi_1
w $R/sys/class/thermal/thermal_zone2/temp 41000
w $R/sys/class/thermal/thermal_zone3/type x86_pkg_temp
w $R/sys/class/thermal/thermal_zone3/temp 67000
P=$R/sys/class/power_supply
w $P/AC/type Mains; w $P/AC/online 0
w $P/BAT0/type Battery; w $P/BAT0/status Discharging; w $P/BAT0/capacity 57; w $P/BAT0/present 1
w $P/BAT0/capacity_level Normal; w $P/BAT0/technology Li-poly; w $P/BAT0/energy_now 29640000
w "$P/ucsi-source-psy-USBC000:001/type" USB; w "$P/ucsi-source-psy-USBC000:001/online" 0; w "$P/ucsi-source-psy-USBC000:001/scope" System

# 5. vm: 2 vCPUs under QEMU/KVM: no hwmon, no thermal zones, no power supplies, no node dir.
R=$F/vm
M="Intel Xeon Processor (Cascadelake)"
: > $F/.cpuinfo.tmp
for cpu in 0 1; do
  topo $R $cpu $cpu 0 "$cpu" "$cpu"
  x86block $cpu "$M" $cpu 0 1 1 $cpu GenuineIntel 6 85 >> $F/.cpuinfo.tmp
done
mkdir -p $R/proc; cp $F/.cpuinfo.tmp $R/proc/cpuinfo
w $R/sys/devices/system/cpu/online "0-1"
mkdir -p $R/sys/class/hwmon $R/sys/class/thermal $R/sys/class/power_supply
rm -f $F/.cpuinfo.tmp
